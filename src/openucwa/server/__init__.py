"""ASGI server: routes translate HTTP to actions; nothing here touches SQL or Redis."""

"""Generated photos: a user's initials on a coloured square, for users without an uploaded photo.

Pillow renders them; the result depends only on the display name, so it is cached per process and
its ETag is stable across nodes.
"""

from __future__ import annotations

import functools
import hashlib
import io

SIZE = 96
# Dark enough for white text; picked by a hash of the name so a person keeps one colour.
PALETTE = (
    (0x00, 0x78, 0xD4),
    (0x8E, 0x24, 0xAA),
    (0xC2, 0x39, 0x34),
    (0x10, 0x7C, 0x10),
    (0xCA, 0x50, 0x10),
    (0x03, 0x83, 0x87),
    (0x5C, 0x2D, 0x91),
    (0x49, 0x82, 0x05),
)
VERSION = "1"  # bump when the drawing changes, so caches holding the old image refetch


def initials(name: str) -> str:
    """First letters of the first and last words ("Lene Aaling" → "LA"); "?" for an empty name."""
    words = [w for w in name.split() if w[:1].isalnum()]
    if not words:
        return "?"
    if len(words) == 1:
        return words[0][:2].upper()
    return (words[0][0] + words[-1][0]).upper()


def etag(name: str) -> str:
    return "g" + hashlib.sha256(f"{VERSION}\n{name}".encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=4096)
def render(name: str) -> bytes:
    """A SIZE×SIZE JPEG of the initials, centred."""
    from PIL import Image, ImageDraw, ImageFont

    digest = hashlib.sha256(name.encode()).digest()
    image = Image.new("RGB", (SIZE, SIZE), PALETTE[digest[0] % len(PALETTE)])
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=SIZE * 2 // 5)
    text = initials(name)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    pos = ((SIZE - (right - left)) / 2 - left, (SIZE - (bottom - top)) / 2 - top)
    draw.text(pos, text, fill=(255, 255, 255), font=font)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()

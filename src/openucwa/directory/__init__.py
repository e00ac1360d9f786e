"""The company directory (LDAP / Active Directory): who may sign in and who the people are.

``attributes`` and ``login`` are pure (entries in, people out); ``client`` is the only module that
talks LDAP, on worker threads so the event loop never waits on a directory round trip.
"""

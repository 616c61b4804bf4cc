"""Keys for cached page fragments (a queue entry, a follow-up row).

A fragment is cached under a digest of everything it shows, so equal keys render equal HTML and
no write ever has to invalidate one: changed facts make a new key, and the old fragment ages out.
A whole list of such fragments is cached the same way, under a digest of its fragments' keys
(settings.CACHES["fragment_lists"], which keeps few). Both caches are per process; crm.apps
empties them when a setting changes (tests), since settings are not part of the keys.
"""

import hashlib

from django.conf import settings
from django.core.cache import caches

FRAGMENT_CACHES = ("fragments", "fragment_lists")  # their aliases in settings.CACHES


def fragment_key(*facts) -> str:
    """A short digest of the facts a fragment shows (anything with a stable repr)."""
    return hashlib.blake2b(repr(facts).encode(), digest_size=16).hexdigest()


def forget_rendered_fragments() -> None:
    """Empty this process's fragment caches: nothing rendered before is served again."""
    for alias in FRAGMENT_CACHES:
        if alias in settings.CACHES:
            caches[alias].clear()

"""``songbridge fx allow|allowed|revoke``: the external plugins (VST3/AU/LV2) allowed to run on this machine."""

from __future__ import annotations

import argparse

from engine.errors import SongBridgeError


def allow(args: argparse.Namespace) -> int:
    from engine.audio.consent import allow as allow_plugin
    from engine.audio.consent import store_path

    entry = allow_plugin(args.path)
    print(f"allowed {entry.path} (sha256 {entry.sha256}) on this machine, in {store_path()}; any change to its "
          "files withdraws this")
    return 0


def allowed(args: argparse.Namespace) -> int:  # no options
    from engine.audio.consent import ConsentError, allowed, plugin_digest, store_path

    entries = allowed()
    if not entries:
        print(f"no plugins are allowed on this machine ({store_path()})")
        return 0
    for e in entries:
        try:
            state = "ok" if plugin_digest(e.path) == e.sha256 else "changed"
        except ConsentError:
            state = "missing"
        print(f"  [{state}]{' ' * (8 - len(state))}{e.path}  sha256 {e.sha256[:16]}...  allowed {e.allowed_at}")
    print(f"{len(entries)} allowed ({store_path()}); a changed plugin is refused until allowed again")
    return 0


def revoke(args: argparse.Namespace) -> int:
    from engine.audio.consent import revoke as revoke_plugin

    gone = revoke_plugin(args.path)
    if not gone:
        raise SongBridgeError(f"{args.path}: not in the allowed list (songbridge fx allowed lists it)")
    for e in gone:
        print(f"revoked {e.path}: it no longer loads on this machine")
    return 0

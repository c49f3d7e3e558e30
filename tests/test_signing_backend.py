"""Signing runs on coincurve (secp256k1 in C), a declared dependency: eth_keys picks it up for
the SDK's signatures and the emulator's signer recovery. It must sign exactly as eth_keys'
pure-Python curve does (the venue recovers the signer from the signature)."""

from __future__ import annotations

import hashlib

from eth_keys import KeyAPI
from eth_keys.backends import CoinCurveECCBackend, NativeECCBackend, get_backend


def test_eth_keys_signs_with_the_c_curve():
    assert isinstance(get_backend(), CoinCurveECCBackend)


def test_the_c_curve_signs_and_recovers_as_the_pure_python_one():
    native, fast = KeyAPI(NativeECCBackend), KeyAPI(CoinCurveECCBackend)
    for i in range(25):
        key = hashlib.sha256(b"key %d" % i).digest()
        digest = hashlib.sha256(b"action %d" % i).digest()
        slow_sig = native.PrivateKey(key).sign_msg_hash(digest)
        fast_sig = fast.PrivateKey(key).sign_msg_hash(digest)
        assert fast_sig.to_bytes() == slow_sig.to_bytes()
        signer = native.PrivateKey(key).public_key
        assert fast.Signature(slow_sig.to_bytes()).recover_public_key_from_msg_hash(digest) == signer

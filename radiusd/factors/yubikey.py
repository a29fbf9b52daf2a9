"""YubiKey OTP (Yubico OTP): modhex, AES-128, CRC-16, private id, strictly increasing counters.

What the key types is its public id (modhex, 0..16 characters, 12 on YubiKeys as shipped)
followed by 32 modhex characters: one AES-128 block holding the private id (6 bytes), the usage
counter (2 bytes, little endian; its top bit only flags a caps-lock trigger), a timestamp (3), the
session counter (1), random (2) and a CRC-16 whose residue over the block is 0xf0b8.

The usage counter rises per power-up and the session counter per press within one, so
(usage << 8 | session) is one strictly increasing number: tokens.counter holds the last accepted one
and the compare-and-set consume needs nothing else.
Token params: {"public_id": modhex}; the sealed secret is the AES key (16 bytes) + private id (6).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import ClassVar

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from radiusd.crypto.keyring import Keyring
from radiusd.factors.base import Factor, Match, TokenRecord, same

MODHEX = "cbdefghijklnrtuv"
_TO_HEX = str.maketrans(MODHEX, "0123456789abcdef")
_FROM_HEX = str.maketrans("0123456789abcdef", MODHEX)
OTP_LENGTH = 32
CRC_RESIDUE = 0xF0B8


class YubikeyError(ValueError):
    pass


def is_modhex(text: str) -> bool:
    return len(text) % 2 == 0 and all(c in MODHEX for c in text)


def modhex_decode(text: str) -> bytes:
    if not is_modhex(text):
        raise YubikeyError("not modhex")
    return bytes.fromhex(text.translate(_TO_HEX))


def modhex_encode(data: bytes) -> str:
    return data.hex().translate(_FROM_HEX)


def crc16(data: bytes) -> int:
    """The CRC-16 (ISO 13239, reflected 0x8408, initial 0xffff) the YubiKey appends."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


@dataclass(frozen=True, slots=True)
class YubikeyOtp:
    private_id: bytes
    usage: int
    timestamp: int
    session: int
    random: int

    @property
    def counter(self) -> int:
        return self.usage << 8 | self.session


def decrypt_otp(otp: str, aes_key: bytes) -> YubikeyOtp:
    """Decrypt and check the 32-character OTP part; raises YubikeyError if it does not hold up."""
    block = modhex_decode(otp)
    if len(block) != 16 or len(aes_key) != 16:
        raise YubikeyError("wrong length")
    decryptor = Cipher(algorithms.AES(aes_key), modes.ECB()).decryptor()
    plain = decryptor.update(block) + decryptor.finalize()
    if crc16(plain) != CRC_RESIDUE:
        raise YubikeyError("CRC check failed")
    return YubikeyOtp(
        private_id=plain[:6],
        usage=int.from_bytes(plain[6:8], "little") & 0x7FFF,
        timestamp=int.from_bytes(plain[8:11], "little"),
        session=plain[11],
        random=int.from_bytes(plain[12:14], "little"),
    )


def seal_material(aes_key: bytes, private_id: bytes) -> bytes:
    """What `token add USER yubikey` seals into tokens.secret_enc."""
    if len(aes_key) != 16 or len(private_id) != 6:
        raise YubikeyError("the AES key is 16 bytes and the private id 6 bytes")
    return aes_key + private_id


class YubikeyFactor(Factor):
    name: ClassVar[str] = "yubikey"

    def code_lengths(self, token: TokenRecord) -> tuple[int, ...]:
        return (len(str(token.params.get("public_id", ""))) + OTP_LENGTH,)

    def match(self, token: TokenRecord, code: str, now: float, keyring: Keyring) -> Match | None:
        public_id = str(token.params.get("public_id", ""))
        if len(code) != len(public_id) + OTP_LENGTH or not same(code[: len(public_id)], public_id):
            return None
        material = token.secret(keyring)
        try:
            otp = decrypt_otp(code[len(public_id) :], material[:16])
        except YubikeyError:
            return None
        if not hmac.compare_digest(otp.private_id, material[16:22]):
            return None
        return Match(token.id, counter=otp.counter, replay=otp.counter <= token.counter)

"""Passcode through Python ctypes next to django-otp's EmailDevice, in one process and one run.

What a Python shop would pick instead of Passcode for email codes is django-otp's
`EmailDevice` (with Django's own ORM on SQLite in memory and the in-memory mail backend, the
fastest setup it has): `generate_challenge()` draws a code, saves it on the device row and
sends the mail; `verify_token()` checks it (with its throttling) and saves the row again.
Passcode is loaded as `libpasscode.so` through ctypes, issuing (which renders the message)
and verifying on its memory store: the same work a Python host would do with it.

Each side issues for N fresh subjects, then verifies each with the right code; the figure is
the median of several batches, in microseconds per call. Prints one JSON object.

Usage: peer.py LIBPASSCODE [N]
"""

import ctypes
import json
import os
import statistics
import sys
import time

BATCHES = 5


def per_call_us(items, call):
    """Runs `call` on each item, in BATCHES equal batches; the median microseconds per call."""
    size = max(1, len(items) // BATCHES)
    times = []
    for b in range(BATCHES):
        batch = items[b * size : (b + 1) * size]
        start = time.perf_counter()
        for item in batch:
            call(item)
        times.append((time.perf_counter() - start) * 1e6 / len(batch))
    return statistics.median(times)


class PasscodeStr(ctypes.Structure):
    _fields_ = [("data", ctypes.c_char_p), ("len", ctypes.c_size_t)]


def passcode(library, n):
    lib = ctypes.CDLL(library)
    lib.passcode_engine_new.restype = ctypes.c_uint32
    lib.passcode_engine_new.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.passcode_issue.restype = ctypes.c_uint32
    lib.passcode_issue.argtypes = [
        ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32,
        ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t,
        ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p,
    ]
    lib.passcode_verify.restype = ctypes.c_uint32
    lib.passcode_verify.argtypes = [
        ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t,
        ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p,
    ]
    for name in ("passcode_issued_token", "passcode_issued_code"):
        getattr(lib, name).restype = PasscodeStr
        getattr(lib, name).argtypes = [ctypes.c_void_p]
    lib.passcode_issued_free.argtypes = [ctypes.c_void_p]
    lib.passcode_verified_free.argtypes = [ctypes.c_void_p]
    lib.passcode_engine_free.argtypes = [ctypes.c_void_p]

    # The same limits as the Django side: none that N sign-ins would reach.
    config = b"[policy]\nsubject_sends = { max = 20, window_seconds = 600 }\n"
    engine = ctypes.c_void_p()
    status = lib.passcode_engine_new(config, len(config), None, ctypes.byref(engine))
    if status != 0:
        raise SystemExit(f"passcode_engine_new: status {status}")
    EMAIL, SIGN_IN = 1, 2
    challenges = []

    def issue(address):
        out = ctypes.c_void_p()
        status = lib.passcode_issue(engine, EMAIL, SIGN_IN, address, len(address), None, 0, None, 0, ctypes.byref(out), None)
        if status != 0:
            raise SystemExit(f"passcode_issue: status {status}")
        token, code = lib.passcode_issued_token(out), lib.passcode_issued_code(out)
        challenges.append((ctypes.string_at(token.data, token.len), ctypes.string_at(code.data, code.len)))
        lib.passcode_issued_free(out)

    def verify(challenge):
        token, code = challenge
        out = ctypes.c_void_p()
        status = lib.passcode_verify(engine, token, len(token), code, len(code), ctypes.byref(out), None)
        if status != 0:
            raise SystemExit(f"passcode_verify: status {status}")
        lib.passcode_verified_free(out)

    addresses = [f"user{i}@example.com".encode() for i in range(n)]
    issue_us = per_call_us(addresses, issue)
    verify_us = per_call_us(challenges, verify)
    lib.passcode_engine_free(engine)
    return issue_us, verify_us


def django_otp(n):
    import django
    from django.conf import settings

    settings.configure(
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django_otp",
            "django_otp.plugins.otp_email",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        # django-otp's own message templates, from its app directory.
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        DEFAULT_FROM_EMAIL="noreply@example.com",
        USE_TZ=True,
    )
    django.setup()
    from django.contrib.auth.models import User
    from django.core import mail
    from django.core.management import call_command
    from django_otp.plugins.otp_email.models import EmailDevice

    call_command("migrate", verbosity=0)
    users = User.objects.bulk_create([User(username=f"user{i}", email=f"user{i}@example.com") for i in range(n)])
    devices = EmailDevice.objects.bulk_create([EmailDevice(user=u, name="email", confirmed=True) for u in users])
    devices = list(EmailDevice.objects.all())
    codes = []

    def issue(device):
        device.generate_challenge()
        codes.append((device, device.token))

    def verify(challenge):
        device, code = challenge
        if not device.verify_token(code):
            raise SystemExit("django-otp refused its own code")

    issue_us = per_call_us(devices, issue)
    mail.outbox.clear()
    verify_us = per_call_us(codes, verify)
    return issue_us, verify_us, django.get_version()


def main():
    library = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    p_issue, p_verify = passcode(library, n)
    d_issue, d_verify, django_version = django_otp(n)
    from importlib.metadata import version

    print(json.dumps({
        "n": n,
        "python": sys.version.split()[0],
        "django": django_version,
        "django_otp": version("django-otp"),
        "passcode_ctypes_issue_us": round(p_issue, 2),
        "passcode_ctypes_verify_us": round(p_verify, 2),
        "django_otp_issue_us": round(d_issue, 2),
        "django_otp_verify_us": round(d_verify, 2),
    }))


if __name__ == "__main__":
    main()

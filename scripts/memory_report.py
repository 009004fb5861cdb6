#!/usr/bin/env python3
"""Turns a heaptrack profile and an smaps snapshot of ota_mqtt into the README memory tables.

usage: memory_report.py TITLE FLAMEGRAPH_FILE SMAPS_FILE

FLAMEGRAPH_FILE: `heaptrack_print --print-flamegraph F --flamegraph-cost-type peak` output (one
"frame;frame;...; bytes" line per call stack, outermost frame first). SMAPS_FILE: a copy of
/proc/PID/smaps taken during the download. Prints Markdown on stdout.

Heap bytes are attributed to an owner by the frames of the stack that allocated them (first rule
that matches); frames without symbols (libraries without debug information) only count through
their callers, which is why some owners are named by the thread that allocated.
"""
import collections
import os
import sys

# (owner, test on the list of frames), first match wins.
RULES = [
    ("download ring (`HttpOptions::buffer_size`)",
     lambda f: any("CurlByteSource::Impl::prepare" in x for x in f)
     and not any("Impl::configure" in x for x in f)),
    ("fetch buffer (`ota_mqtt`'s `fetch_yield` buffer)", lambda f: f == ["main"]),
    ("libcurl transfer: receive buffer (`HttpOptions::receive_buffer_size`), upload buffer, "
     "the download's TLS connection", lambda f: any("CurlByteSource::Impl::run" in x for x in f)),
    ("libcurl handles", lambda f: any("CurlByteSource::" in x for x in f)),
    ("OpenSSL: the MQTT connection's TLS context and session (paho's thread), CA file, "
     "library initialisation",
     lambda f: any(k in x for x in f for k in ("SSL", "EVP_", "OPENSSL", "CRYPTO_", "X509",
                                               "PEM_", "ossl", "ERR_"))),
    ("paho (MQTT client, its command and message queues)",
     lambda f: any(k in x for x in f for k in ("mqtt::", "MQTTAsync", "PahoChannel"))),
    ("GnuTLS initialisation (loaded with Debian's libcurl, never used)",
     lambda f: any("asn1_" in x or "gnutls" in x for x in f)),
    ("libstdc++'s emergency exception pool", lambda f: any("_dl_init" in x for x in f)),
    ("OTA library (client state, job, digests)", lambda f: any("ota::" in x for x in f)),
]
OTHER = "other (libc, locale, small allocations)"


def heap_by_owner(path):
    owners = collections.Counter()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            stack, _, cost = line.rstrip("\n").rpartition(" ")
            if not cost.isdigit():
                continue
            frames = [x.strip() for x in stack.split(";") if x.strip()]
            # Drop the process's start-up frames so that "main" alone means main's own call.
            while frames and (frames[0].startswith("__libc_start") or frames[0].startswith("_start")):
                frames.pop(0)
            owner = next((name for name, test in RULES if test(frames)), OTHER)
            owners[owner] += int(cost)
    return owners


def smaps(path):
    """Yields (name, size_kib, start, fields) for each mapping."""
    cur = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5 and not parts[0].endswith(":"):
                if cur:
                    yield cur
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                cur = (parts[5] if len(parts) > 5 else "", (hi - lo) // 1024, lo, {})
            elif cur and parts[0].endswith(":") and len(parts) >= 2 and parts[1].isdigit():
                cur[3][parts[0][:-1]] = int(parts[1])
    if cur:
        yield cur


def main():
    title, flame, smaps_path = sys.argv[1:4]
    libs = collections.defaultdict(lambda: [0, 0])
    anon = collections.Counter()
    for name, size, start, fields in smaps(smaps_path):
        rss, an = fields.get("Rss", 0), fields.get("Anonymous", 0)
        if name.startswith("/"):
            libs[os.path.basename(name)][0] += rss
            libs[os.path.basename(name)][1] += an
            if an:
                anon["shared libraries' written pages (relocations, .data)"] += an
        elif name == "[heap]":
            anon["main heap (`[heap]`)"] += an
        elif name == "[stack]":
            anon["main thread's stack"] += an
        elif size == 8192:
            anon["other threads' stacks (8 MiB reserved each)"] += an
        elif start % (64 << 20) == 0 and size <= 65536:
            anon["malloc arenas of other threads"] += an
        else:
            anon["other anonymous mappings (large buffers, libraries' .bss)"] += an
    total_anon = sum(anon.values())

    owners = heap_by_owner(flame)
    total_heap = sum(owners.values())
    print(f"{title}\n")
    print("| heap allocations by owner (heaptrack, at the peak) | KiB |")
    print("|---|---|")
    for name, cost in owners.most_common():
        print(f"| {name} | {cost / 1024:.0f} |")
    print(f"| **total** | **{total_heap / 1024:.0f}** |\n")
    print("| anonymous memory by mapping (smaps, during the download) | KiB |")
    print("|---|---|")
    for name, kib in anon.most_common():
        print(f"| {name} | {kib} |")
    print(f"| **total (RssAnon)** | **{total_anon}** |\n")
    print("| shared library | resident KiB | of which written (anonymous) |")
    print("|---|---|---|")
    ranked = sorted(libs.items(), key=lambda kv: -kv[1][0])
    shown, rest = ranked[:12], ranked[12:]
    for name, (rss, an) in shown:
        print(f"| {name} | {rss} | {an} |")
    if rest:
        print(f"| {len(rest)} others | {sum(v[0] for _, v in rest)} | "
              f"{sum(v[1] for _, v in rest)} |")
    print(f"| **total** | **{sum(v[0] for v in libs.values())}** | "
          f"**{sum(v[1] for v in libs.values())}** |")


if __name__ == "__main__":
    main()

"""Shared by the Scripts/bench* benchmarks: runs our command and its peer on the same input in the
same run, alternating (ours, peer, ours, peer, ...) so that a change in the machine's load hits
both, and prints the median of each, the ratio, and the peak memory of every run measured by the
kernel (its ru_maxrss, as GNU time reports it: see run()). Prints figures; asserts nothing."""
import os
import statistics
import subprocess
import sys
import time


# CPU seconds (user + system) of the latest run(): on a shared machine, a steadier figure than wall time.
last_cpu = None


# GNU time starts the measured command: see run().
TIME = "/usr/bin/time"


def run(command, stdin=None, env=None):
    """Wall seconds and peak resident KiB of one run of `command` (a list), output discarded;
    its CPU seconds (user + system) are left in `last_cpu`.

    The peak is the command's own, as GNU time reports it: a process started straight from this
    one inherits this Python process's peak as the floor of its own (the kernel carries the
    peak of the memory a process had before exec into the one it reports after: `true` measured
    15 MB here, the size of this interpreter), so the command is started by GNU time, whose own
    ~1-2 MB is the floor instead. Without GNU time, the inherited figure, said on stderr."""
    global last_cpu
    stdin_file = open(stdin, "rb") if stdin else subprocess.DEVNULL
    timed = os.access(TIME, os.X_OK)
    report = os.pipe() if timed else None
    launcher = [TIME, "-f", "%M %U %S", "-o", f"/dev/fd/{report[1]}", "--"] if timed else []
    if not timed and not getattr(run, "warned", False):
        run.warned = True
        print(f"benchlib: {TIME} is missing (apt: time): peak memory below this Python's own is reported as its", file=sys.stderr)
    try:
        start = time.perf_counter()
        process = subprocess.Popen(launcher + command, stdin=stdin_file, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, env=env, pass_fds=(report[1],) if timed else ())
        if timed:
            os.close(report[1])
        stderr = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        measured = None
        if timed:
            with os.fdopen(report[0]) as lines:
                fields = lines.read().split()
            # GNU time writes "Command exited with non-zero status N" before the figures.
            if len(fields) >= 3:
                measured = (int(fields[-3]), float(fields[-2]) + float(fields[-1]))
    finally:
        if stdin:
            stdin_file.close()
    kib, last_cpu = measured or (usage.ru_maxrss, usage.ru_utime + usage.ru_stime)
    code = os.waitstatus_to_exitcode(status)
    process.returncode = code
    return seconds, kib, code, stderr.decode(errors="replace")


def size_of(paths):
    """Bytes in the given files and directories (the input's size, for the memory ratio)."""
    total = 0
    for path in paths:
        if os.path.isdir(path):
            for folder, _, files in os.walk(path):
                total += sum(os.path.getsize(os.path.join(folder, name)) for name in files
                             if os.path.isfile(os.path.join(folder, name)))
        elif os.path.isfile(path):
            total += os.path.getsize(path)
    return total


def human(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1000


def compare(title, ours, peer, peer_name, input_paths, runs=5, ok_codes=(0, 1),
            before_peer=None, after_peer=None, goal=None):
    """Alternates `ours` and `peer` (command lists; a peer may also be a Python callable that
    returns (seconds, kib)) `runs` times and prints one block of figures."""
    global last_cpu
    input_bytes = size_of(input_paths)
    ours_runs, peer_runs = [], []
    ours_cpu, peer_cpu = [], []
    for _ in range(runs):
        seconds, kib, code, stderr = run(ours)
        if code not in ok_codes:
            sys.exit(f"{title}: our command failed ({code}): {' '.join(ours)}\n{stderr[-2000:]}")
        ours_runs.append((seconds, kib))
        ours_cpu.append(last_cpu)
        if before_peer:
            before_peer()
        try:
            last_cpu = None
            if callable(peer):
                peer_runs.append(peer())
            else:
                seconds, kib, code, stderr = run(peer)
                if code != 0:
                    sys.exit(f"{title}: the peer failed ({code}): {' '.join(peer)}\n{stderr[-2000:]}")
                peer_runs.append((seconds, kib))
            # A peer run in this process (a Python callable) has no CPU figure of its own.
            if last_cpu is not None:
                peer_cpu.append(last_cpu)
        finally:
            if after_peer:
                after_peer()
    ours_time = statistics.median(s for s, _ in ours_runs)
    peer_time = statistics.median(s for s, _ in peer_runs)
    ours_memory = max(k for _, k in ours_runs) * 1024
    peer_memory = max(k for _, k in peer_runs) * 1024
    print(f"== {title}")
    print(f"input: {human(input_bytes)}; machine: {os.cpu_count()} cores, load {open('/proc/loadavg').read().split()[0]}; "
          f"{runs} alternating runs each, medians")
    print(f"ours: {ours_time:.3f} s (runs {', '.join(f'{s:.2f}' for s, _ in ours_runs)}), "
          f"peak memory {human(ours_memory)} ({ours_memory / max(input_bytes, 1):.1f}x the input)")
    print(f"{peer_name}: {peer_time:.3f} s (runs {', '.join(f'{s:.2f}' for s, _ in peer_runs)}), "
          f"peak memory {human(peer_memory)}")
    cpu_line = f"CPU (user+system, median): ours {statistics.median(ours_cpu):.3f} s"
    if len(peer_cpu) == len(ours_cpu):
        ours_c, peer_c = statistics.median(ours_cpu), statistics.median(peer_cpu)
        cpu_line += f", {peer_name} {peer_c:.3f} s: " + (f"ours uses {peer_c / ours_c:.1f}x less CPU" if ours_c <= peer_c else f"ours uses {ours_c / peer_c:.1f}x more CPU")
    print(cpu_line)
    if ours_time <= peer_time:
        print(f"ratio: ours is {peer_time / ours_time:.1f}x faster than {peer_name}" + (f" (goal: {goal})" if goal else ""))
    else:
        print(f"ratio: ours is {ours_time / peer_time:.1f}x slower than {peer_name}" + (f" (goal: {goal})" if goal else ""))
    return ours_time, peer_time


# The binary measured: what users run.

# Where the benchmarks build: apart from .build/release (which the tests use), since the flags differ.
SHIPPED_SCRATCH = ".build/shipped"


def build_shipped(repo, products):
    """Builds `products` in release mode as Scripts/package builds what users install (the Swift
    runtime, Foundation and the C++ runtime linked statically: only the C library and OpenSSL are
    shared libraries), in SHIPPED_SCRATCH, and returns the folder of the binaries. The dynamically
    linked `swift build -c release` maps a dozen shared libraries and touches pages of each: its
    peak memory is not the one users see."""
    static = os.path.join(repo, ".build", "static-cxx")
    os.makedirs(static, exist_ok=True)
    libstdcxx = subprocess.run(["clang", "-print-file-name=libstdc++.a"], capture_output=True, text=True, check=True).stdout.strip()
    libgcc_eh = subprocess.run(["clang", "-print-file-name=libgcc_eh.a"], capture_output=True, text=True, check=True).stdout.strip()
    link = os.path.join(static, "libstdc++.a")
    if not os.path.islink(link) or os.readlink(link) != libstdcxx:
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(libstdcxx, link)
    command = ["swift", "build", "-c", "release", "--scratch-path", os.path.join(repo, SHIPPED_SCRATCH), "--static-swift-stdlib",
               "-Xlinker", f"-L{static}", "-Xlinker", libgcc_eh,
               # As Scripts/package links: lld, packed relative relocations (DT_RELR), hot functions first.
               "-Xswiftc", "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
               "-Xlinker", "--symbol-ordering-file=" + os.path.join(repo, "Scripts", "link-order.txt"),
               "-Xlinker", "--no-warn-symbol-ordering"]
    for product in products:
        result = subprocess.run(command + ["--product", product], cwd=repo, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"building {product} as shipped failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return subprocess.run(command + ["--show-bin-path"], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


def describe_binary(path):
    """One line saying which binary the figures are of."""
    shared = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
    names = sorted({line.split()[0] for line in shared.splitlines() if "=>" in line})
    swift = [name for name in names if "swift" in name.lower() or "Foundation" in name]
    how = ("the Swift runtime and Foundation linked dynamically (" + str(len(swift)) + " Swift libraries)" if swift
           else "the Swift runtime and Foundation linked statically, as shipped")
    return f"binary measured: {path} ({how}; shared libraries: {', '.join(names) or 'none'})"


# The peers, shared by the scripts that run them.

def firewall_loaders(namespace, sets, rules):
    """The kernel's own loaders on the same files, in `namespace`: ipset restore, then
    iptables-restore --test (one shell, timed whole)."""
    return ["ip", "netns", "exec", namespace, "sh", "-c", f"ipset restore < '{sets}' && iptables-restore --test < '{rules}'"]


def parse_certificates(root):
    """Python's `cryptography` decoding every certificate and key below `root` (parse only)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    for folder, _, names in os.walk(root):
        for name in names:
            data = open(os.path.join(folder, name), "rb").read()
            if b"PRIVATE KEY-----" in data:
                serialization.load_pem_private_key(data, password=None)
            elif b"-----BEGIN CERTIFICATE-----" in data:
                x509.load_pem_x509_certificates(data)


if __name__ == "__main__":
    # `benchlib.py parse-certificates DIR`: the certificate peer as a process of its own.
    if len(sys.argv) == 3 and sys.argv[1] == "parse-certificates":
        parse_certificates(sys.argv[2])
    # `benchlib.py build-shipped PRODUCT...`: builds them as shipped and prints their folder.
    elif len(sys.argv) >= 3 and sys.argv[1] == "build-shipped":
        print(build_shipped(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), sys.argv[2:]))
    # `benchlib.py describe BINARY`: which binary the figures are of.
    elif len(sys.argv) == 3 and sys.argv[1] == "describe":
        print(describe_binary(sys.argv[2]))
    else:
        sys.exit("usage: benchlib.py parse-certificates DIR | build-shipped PRODUCT... | describe BINARY")

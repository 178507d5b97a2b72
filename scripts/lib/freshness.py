"""Freshness driver shared by scripts/bench-watch and scripts/bench-kafka-freshness.

Makes CHANGES changes to a live archive (half new deposition folders, half in-place rewrites of
files written ~2 s earlier, 20 per second), waits until the loader counted them, and prints the
p50/p99 of msgmig_loader_freshness_seconds (file mtime -> rows committed) over those changes,
interpolated in the histogram buckets.

Usage: python3 scripts/lib/freshness.py LOADER_METRICS_URL ARCHIVE CHANGES LABEL
"""
import os, sys, time, urllib.request
url, archive, changes, label = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def hist():
    m = urllib.request.urlopen(url).read().decode()
    b = {}
    for l in m.splitlines():
        if l.startswith('msgmig_loader_freshness_seconds_bucket'):
            le = l.split('le="')[1].split('"')[0]
            b[float('inf') if le == '+Inf' else float(le)] = float(l.rsplit(' ', 1)[1])
    return b
def loaded():
    m = urllib.request.urlopen(url).read().decode()
    return sum(float(l.rsplit(' ', 1)[1]) for l in m.splitlines() if l.startswith('msgmig_loader_messages_total{outcome="inserted"}') or l.startswith('msgmig_loader_messages_total{outcome="updated"}'))
TEMPLATE = """data_messages
# 
_pdbx_deposition_message_info.ordinal_id               1 
_pdbx_deposition_message_info.message_id               {mid} 
_pdbx_deposition_message_info.deposition_data_set_id   {dep} 
_pdbx_deposition_message_info.timestamp                '2026-11-23 12:00:00' 
_pdbx_deposition_message_info.sender                   'depositor - Bench, Bea (submitter)' 
_pdbx_deposition_message_info.context_type             ? 
_pdbx_deposition_message_info.context_value            ? 
_pdbx_deposition_message_info.parent_message_id        {mid} 
_pdbx_deposition_message_info.message_subject          '{subject}' 
_pdbx_deposition_message_info.message_text             
;Change {n} of the freshness bench.
;
_pdbx_deposition_message_info.message_type             text 
_pdbx_deposition_message_info.send_status              Y 
# 
"""
before, start_rows = hist(), loaded()
made = []
for n in range(changes):
    if n % 2 == 0 or not made:
        dep = f"D_{3000000000 + n}"
        tmp = os.path.join(os.path.dirname(archive), "staging", dep)
        os.makedirs(tmp)
        name = f"{dep}_messages-from-depositor_P1.cif.V1"
        with open(os.path.join(tmp, name), "w") as f:
            f.write(TEMPLATE.format(mid=f"bench-{n:06d}", dep=dep, subject="first", n=n))
        os.rename(tmp, os.path.join(archive, dep))  # a new deposition folder appears whole
        made.append((dep, name, f"bench-{n:06d}"))
    else:
        dep, name, mid = made[max(0, len(made) - 40)]  # created ~2 s earlier: a separate change
        with open(os.path.join(archive, dep, name), "w") as f:  # rewritten in place
            f.write(TEMPLATE.format(mid=mid, dep=dep, subject=f"edited {n}", n=n))
    time.sleep(0.05)
deadline = time.time() + 120
while loaded() - start_rows < changes and time.time() < deadline:
    time.sleep(0.5)
after = hist()
delta = {k: after[k] - before.get(k, 0) for k in sorted(after)}
total = delta[float('inf')]
def quantile(q):
    target, prev_le, prev_c = q * total, 0.0, 0.0
    for le, c in delta.items():
        if c >= target:
            if le == float('inf'):
                return prev_le
            return prev_le + (le - prev_le) * (target - prev_c) / max(c - prev_c, 1e-9)
        prev_le, prev_c = le, c
print(f"  {label}: {int(total)} changes committed, freshness p50 {quantile(0.5):.2f} s, p99 {quantile(0.99):.2f} s (histogram interpolation)", file=sys.stderr)

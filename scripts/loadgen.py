#!/usr/bin/env python3
"""Posts N distinct alerts in batches from one client (keep-alive), then
waits until an nginx access log shows that many requests at a path.

Prints one JSON line: seconds to post, seconds until the receiver had them
all, and the target's peak RSS (VmHWM of --pid) at the end.

Used by scripts/vs-alertmanager.sh for both Tocsin and Alertmanager, so the
same client and the same receiver measure both."""
import argparse, http.client, json, os, time, datetime

def alertmanager_batch(run, start, n):
    now = datetime.datetime.now(datetime.timezone.utc).isoformat()
    return [{
        "labels": {"alertname": f"Incident:Bench{i % 50}", "instance": f"web-{i % 400}",
                   "severity": ["critical", "warning", "info"][i % 3], "id": f"{run}-{i}"},
        "annotations": {"summary": "benchmark event", "intranetIp": "10.0.0.1"},
        "startsAt": now,
    } for i in range(start, start + n)]

def tocsin_batch(run, start, n):
    types = ["Incident", "Suspicious", "Vulnerability", "Rasp"]
    return [{
        "id": f"{run}-{i}", "product": "Sas", "event_type": types[i % 4],
        "name": f"{types[i % 4]}:Bench{i % 50}", "level": ["critical", "warn", "info"][i % 3],
        "resource": f"acs:ecs:cn-hangzhou:1:instance/i-bench{i % 400}", "instance": f"web-{i % 400}",
        "region": "cn-hangzhou",
        "content": {"alarmUniqueInfo": f"u{i}", "intranetIp": "10.0.0.1", "desc": "benchmark event"},
    } for i in range(start, start + n)]

class LogCounter:
    """Counts lines with `needle` in a growing log, reading only what is new."""
    def __init__(self, path, needle):
        self.f = open(path, "rb")
        self.f.seek(0, os.SEEK_END)
        self.needle, self.rest, self.count = needle, b"", 0

    def poll(self):
        chunk = self.f.read()
        if chunk:
            data = self.rest + chunk
            cut = data.rfind(b"\n") + 1
            self.count += data[:cut].count(self.needle)
            self.rest = data[cut:]
        return self.count

def cpu_seconds(pid):
    """User plus system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--target", choices=["tocsin", "alertmanager"], required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--log", required=True, help="the receiver's access log")
    p.add_argument("--receiver-pid", type=int, help="the receiver's worker, to report its CPU time")
    p.add_argument("--path", required=True, help="the receiver path this target posts to")
    p.add_argument("--alerts", type=int, default=10000)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--run", default=str(int(time.time())))
    p.add_argument("--no-wait", action="store_true", help="only post; do not wait for the receiver")
    a = p.parse_args()
    if a.target == "tocsin":
        url, make, ok = "/api/v1/events", tocsin_batch, 202
    else:
        url, make, ok = "/api/v2/alerts", alertmanager_batch, 200
    bodies = [json.dumps(make(a.run, s, min(a.batch, a.alerts - s))).encode()
              for s in range(0, a.alerts, a.batch)]
    needle = f"POST {a.path} ".encode()
    counter = LogCounter(a.log, needle)
    cpu_before = cpu_seconds(a.pid)
    rx_before = cpu_seconds(a.receiver_pid) if a.receiver_pid else 0.0
    conn = http.client.HTTPConnection("127.0.0.1", a.port)
    start = time.monotonic()
    for body in bodies:
        conn.request("POST", url, body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        if r.status != ok:
            raise SystemExit(f"{a.target} answered {r.status}")
    posted = time.monotonic() - start
    deadline = start + (0 if a.no_wait else 300)
    got = 0
    while time.monotonic() < deadline:
        got = counter.poll()
        if got >= a.alerts:
            break
        time.sleep(0.002)
    done = time.monotonic() - start
    cpu = cpu_seconds(a.pid) - cpu_before
    rx_cpu = cpu_seconds(a.receiver_pid) - rx_before if a.receiver_pid else None
    print(json.dumps({"target": a.target, "alerts": a.alerts, "received": got,
                      "post_seconds": round(posted, 3), "end_to_end_seconds": round(done, 3),
                      "cpu_seconds": round(cpu, 2), "receiver_cpu_seconds": rx_cpu and round(rx_cpu, 2),
                      "peak_rss_kib": peak_rss_kib(a.pid)}))

if __name__ == "__main__":
    main()

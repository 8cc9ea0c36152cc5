"""Closed-loop runs with wrk (Debian: `apt-get install wrk`), when it is installed.

wrk sends the same ready-made requests as bench.loadgen: a Lua script reads the request file
(one request per line, CR LF as TAB), each thread taking every n-th line, cycling through them or
stopping when they run out. Its `done` hook prints the figures as one JSON line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from bench.loadgen import Result

LUA = r"""
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

local reqs = {}
local idx = 0
local once = false
function init(args)
  local file, nthreads = args[1], tonumber(args[2])
  once = args[3] == "once"
  local k = 0
  for line in io.lines(file) do
    if line ~= "" and k % nthreads == tid then
      reqs[#reqs + 1] = (line:gsub("\t", "\r\n"))
    end
    k = k + 1
  end
end

function request()
  idx = idx + 1
  if idx > #reqs then
    if once then
      wrk.thread:stop()
      idx = #reqs
    else
      idx = 1
    end
  end
  return reqs[idx]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def run(
    port: int, requests_file: Path, *, connections: int, duration: float, reuse: bool, work_dir: Path
) -> Result:
    script = work_dir / "bench.lua"
    if not script.exists():
        script.write_text(LUA)
    threads = max(1, min(2, connections))
    seconds = max(1, round(duration))
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "30s"]
    argv += ["-s", str(script), f"http://127.0.0.1:{port}/"]
    argv += ["--", str(requests_file), str(threads), "cycle" if reuse else "once"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    w = json.loads(line.removeprefix("WRKJSON "))
    transport = w["connect"] + w["read"] + w["write"] + w["timeout"]

    def ms(us: float) -> float:
        return round(us / 1000, 3)

    return Result(
        requests=w["requests"],
        errors=transport + w["status"],
        statuses={"4xx/5xx": w["status"]} if w["status"] else {},
        elapsed=round(w["duration_us"] / 1e6, 3),
        latencies_ms={
            "p50": ms(w["p50"]),
            "p90": ms(w["p90"]),
            "p99": ms(w["p99"]),
            "p99.9": ms(w["p999"]),
            "max": ms(w["max"]),
            "mean": ms(w["mean"]),
        },
        exhausted=False,
    )

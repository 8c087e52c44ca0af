#!/usr/bin/env python3
"""Harness self-check only: translate a decant.yaml (v1) into an equivalent Dockerfile.

With DECANT_E2E_MOCK=1 the e2e suite builds this Dockerfile with Docker's built-in frontend instead
of going through the decant frontend image. That checks the suite's own logic (progress parsing,
cache markers, timing, image config assertions) before the real frontend exists. It is not a
reference for decant's semantics; error positions (decant.yaml:LINE) cannot be mocked.

usage: mock_dockerfile.py decant.yaml > Dockerfile
"""
import json
import shlex
import sys

import yaml


def q(s):
    return json.dumps(str(s))


def as_list(v):
    return v if isinstance(v, list) else [v]


def main(path):
    spec = yaml.safe_load(open(path))
    out = []
    workdirs = {}
    args = spec.get("args") or {}
    for k, v in args.items():
        out.append(f"ARG {k}={q(v)}")
    for name, st in (spec.get("stages") or {}).items():
        out.append(f"FROM {st['from']} AS {name}")
        user = "0"  # mock only: the base image's user is not known here
        workdirs[name] = workdirs.get(st["from"], "/")
        for k in args:
            out.append(f"ARG {k}")
        if "workdir" in st:
            out.append(f"WORKDIR {st['workdir']}")
            workdirs[name] = st["workdir"]
        for k, v in (st.get("env") or {}).items():
            out.append(f"ENV {k}={q(v)}")
        for step in st.get("steps") or []:
            if "run" in step:
                r = step["run"]
                if isinstance(r, list):
                    out.append("RUN " + json.dumps(r))
                    continue
                pre = "".join(f"export {k}={shlex.quote(str(v))}; " for k, v in (step.get("env") or {}).items())
                if "workdir" in step:
                    pre += f"cd {shlex.quote(step['workdir'])}; "
                if "user" in step:
                    out.append(f"USER {step['user']}")
                out.append("RUN " + pre + r)
                if "user" in step:
                    out.append(f"USER {user}")
            elif "copy" in step:
                frm = f"--from={step['from']} " if "from" in step else ""
                srcs = as_list(step["copy"])
                if step.get("from") in workdirs:  # decant: relative to that stage's workdir
                    srcs = [x if x.startswith("/") else workdirs[step["from"]].rstrip("/") + "/" + x for x in srcs]
                out.append(f"COPY {frm}{json.dumps(srcs + [step.get('to', './')])}")
            elif "env" in step:
                for k, v in step["env"].items():
                    out.append(f"ENV {k}={q(v)}")
            elif "workdir" in step:
                out.append(f"WORKDIR {step['workdir']}")
                workdirs[name] = step["workdir"]
            elif "user" in step:
                user = step["user"]
                out.append(f"USER {user}")
        if "expose" in st:
            out.append("EXPOSE " + " ".join(str(p) for p in st["expose"]))
        if "healthcheck" in st:
            h = st["healthcheck"]
            opts = "".join(f"--{k.replace('_', '-')}={h[k]} " for k in ("interval", "timeout", "start_period", "retries") if k in h)
            cmd = h["cmd"]
            out.append(f"HEALTHCHECK {opts}CMD " + (json.dumps(cmd) if isinstance(cmd, list) else cmd))
        for k, v in (st.get("labels") or {}).items():
            out.append(f"LABEL {q(k)}={q(v)}")
        if "volumes" in st:
            out.append(f"VOLUME {json.dumps(st['volumes'])}")
        if "stop_signal" in st:
            out.append(f"STOPSIGNAL {st['stop_signal']}")
        if "entrypoint" in st:
            out.append(f"ENTRYPOINT {json.dumps(st['entrypoint'])}")
        if "cmd" in st:
            out.append(f"CMD {json.dumps(as_list(st['cmd']))}")
        if "user" in st:
            out.append(f"USER {st['user']}")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])

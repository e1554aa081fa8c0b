# Shell helpers for the scripts that run code-server (sourced, not run): test/vscode/run.sh,
# scripts/bench-vscode.sh and scripts/start.sh. They print nothing: each caller says what failed
# in its own words.

# free_port: prints a free TCP port on 127.0.0.1.
free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# remove_stale_runs DIR: removes the folders DIR/run-<pid> whose script is gone (kept for their
# logs after a failure). A folder whose PID lives is another run going on now: left alone.
remove_stale_runs() {
  local old
  for old in "$1"/run-*; do
    [ -d "$old" ] || continue
    kill -0 "${old##*-}" 2>/dev/null || rm -rf "$old"
  done
}

# stop_group PID: stops the process group led by PID (started with setsid): TERM, up to 5 s to
# go, then KILL. Returns 1 at once when there is no such group.
stop_group() {
  kill -TERM -- "-$1" 2>/dev/null || return 1
  for _ in $(seq 50); do kill -0 -- "-$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$1" 2>/dev/null || true
}

# wait_healthz URL PID: waits until code-server at URL answers /healthz. Returns 1 when PID is
# gone or 60 s have passed without an answer.
wait_healthz() {
  local deadline=$(( $(date +%s) + 60 ))
  until curl -sf -o /dev/null "$1/healthz"; do
    if ! kill -0 "$2" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then return 1; fi
    sleep 0.2
  done
}

#!/bin/bash
# SAKURA Cloud startup-script convention: /root/.sacloud-api/notes/<id>, run with bash,
# output in <id>.log, an empty <id>.done when it exits 0. Runs once (first boot).
DIR=/root/.sacloud-api/notes
mkdir -p /var/lib/lab
touch /var/lib/lab/notes.done
[ -d /lab/notes ] || exit 0
mkdir -p "$DIR"
chmod 700 /root/.sacloud-api
for src in /lab/notes/*; do
  [ -f "$src" ] || continue
  id=$(basename "$src")
  install -m 700 "$src" "$DIR/$id"
  ( cd /root && HOME=/root bash "$DIR/$id" >"$DIR/$id.log" 2>&1 </dev/null ) && : >"$DIR/$id.done"
done
exit 0

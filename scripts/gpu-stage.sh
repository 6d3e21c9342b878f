#!/usr/bin/env bash
# Stages a file bigger than one device call may carry: run on the GPU machine in back-to-back
# calls (its /tmp survives while it stays warm), each carrying one chunk folder; joins the chunks
# into /tmp/stage/NAME once all are there. Usage: scripts/gpu-stage.sh NAME CHUNK_FOLDER TOTAL_CHUNKS
set -eu
name=$1 folder=$2 total=$3
mkdir -p /tmp/stage/chunks
cp "$folder"/* /tmp/stage/chunks/
have=$(ls /tmp/stage/chunks | wc -l)
echo "staged chunks: $have of $total"
if [ "$have" -ge "$total" ]; then cat /tmp/stage/chunks/* > "/tmp/stage/$name" && rm -rf /tmp/stage/chunks && ls -la "/tmp/stage/$name"; fi

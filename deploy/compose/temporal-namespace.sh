#!/bin/sh
# Registers the Temporal namespace Kanri uses, once the frontend answers.
# Kanri's cases are workflows in it; the retention is how long a closed
# case's history stays in Temporal (Kanri's own database keeps the record and
# the history for good).
set -eu

address=${TEMPORAL_ADDRESS:-temporal:7233}
namespace=${TEMPORAL_NAMESPACE:-default}
retention=${TEMPORAL_RETENTION:-720h}

i=0
until temporal operator cluster health --address "$address" >/dev/null 2>&1; do
  i=$((i + 1))
  [ "$i" -lt 90 ] || { echo "Temporal at $address is not healthy"; exit 1; }
  sleep 2
done

if temporal operator namespace describe --address "$address" --namespace "$namespace" >/dev/null 2>&1; then
  echo "namespace $namespace exists"
else
  temporal operator namespace create --address "$address" --namespace "$namespace" --retention "$retention"
  echo "namespace $namespace registered (retention $retention)"
fi

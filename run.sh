#!/usr/bin/env bash
# Starts the whole local Helios stack: embedded PostgreSQL, the Kafka-protocol dev broker,
# Api, Detector, Optimizer and Web, through Helios.AppHost. Ctrl+C stops everything.
set -euo pipefail
cd "$(dirname "$0")"
source eng/prerequisites.sh
helios_require run
dotnet build Helios.AppHost -c Debug -nologo -v quiet -clp:ErrorsOnly
exec dotnet run --project Helios.AppHost --no-build -- "$@"

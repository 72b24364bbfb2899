#!/bin/sh
# Install the Debian 12 packages that only `make bench` needs, the same way
# scripts/deps.sh installs the others (quiet when present, root otherwise):
#
#   erlang-base    Erlang/OTP (erl, erlc): the side-by-side programs bench/erl/
#   gnuplot-nox    the PNG charts of bench/results/
exec "$(dirname "$0")/deps.sh" erlang-base gnuplot-nox

#!/usr/bin/env bash
# The GPU run (issue 34) in one command of at most 10 minutes on a lent GPU machine: the
# environment, the engine's throughput with its CUDA variants (bf16, channels_last, compile),
# the K-trial engine at K = 1, 8, 32, then the CLR paper's CIFAR-10 runs with every seed in one
# fused stack (benchmarks/gpu_cifar10.py). Everything it prints and every CSV lands in $OUT.
#
# Before it, here (CIFAR-10 is 184 MB and a call carries at most 64 MiB, so it travels one
# batch file per call, each kept on the warm machine between calls):
#   bash ../shared/gpu/wheels.sh tqdm==4.70.1   # .whl/: what the machine lacks for optuna_clr
#   bash benchmarks/gpu.sh prepare        # .gpu/cifar10/: the data set and its MD5 list
# then, back to back (the machine stays warm 30 s after each call), six calls that each carry
# one of .gpu/cifar10/cifar-10-batches-py/{data_batch_1..5,test_batch} (the first also
# .whl, .gpu/cifar10.md5 and batches.meta) and run `true`, and a last one that runs
#   bash benchmarks/gpu.sh
# Rehearse it here on the CPU, tiny budgets, about 5 minutes:
#   OUT=/tmp/gpu GPU_REHEARSE=1 bash benchmarks/gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=.gpu/cifar10
if [ "${1:-}" = prepare ]; then
    mkdir -p "$DATA/cifar-10-batches-py"
    cp ../shared/data/cifar10/cifar-10-batches-py/* "$DATA/cifar-10-batches-py/"
    (cd "$DATA" && md5sum cifar-10-batches-py/*) > .gpu/cifar10.md5
    cat .gpu/cifar10.md5
    exit 0
fi
OUT=${OUT:?set OUT to the folder for the results}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_run.log") 2>&1
step() { echo; echo "== $* ($(date +%T))"; }
if [ -n "${GPU_REHEARSE:-}" ]; then
    device=cpu throughput="--steps 5 --repeats 1 --images 2000" parallel="--k 1 2 --steps 3"
    cifar="--rehearse --seeds 1"
else
    device=cuda throughput="" parallel="--k 1 8 32" cifar="--seeds 3"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit 1
fi
export PYTHONUNBUFFERED=1

step environment
nvidia-smi 2>/dev/null | head -15
python3 -c "import torch, optuna, optuna_clr; print('torch', torch.__version__, 'cuda',
torch.version.cuda, 'available', torch.cuda.is_available(), '| optuna', optuna.__version__,
'| optuna_clr', optuna_clr.__version__)" || exit 1

step "data: the MD5 of every CIFAR-10 file"
(cd "$DATA" && md5sum -c ../cifar10.md5) || { echo "CIFAR-10 incomplete: carry it again"; exit 1; }

step "throughput: plain loop, engine and its variants"
timeout 120 python3 benchmarks/throughput.py --device $device $throughput | tee "$OUT/throughput.txt"

step "the K-trial engine"
timeout 120 python3 benchmarks/parallel.py --device $device --models caffe-cifar10-full \
    --no-processes $parallel | tee "$OUT/parallel.txt"

step "the CLR paper's CIFAR-10 runs"
timeout 330 python3 benchmarks/gpu_cifar10.py --data-dir "$DATA" --device $device $cifar \
    --out "$OUT"
step done

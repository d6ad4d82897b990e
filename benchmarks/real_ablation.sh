#!/usr/bin/env bash
# Ablation of the real-photo training parts of configs/real.yaml: every run fine-tunes the
# bundled model with one part switched off (or all on), on the same data and schedule.
#
#   bash benchmarks/real_ablation.sh DATA OUT [key=value ...]
#
# DATA holds real_tr/ and real_val/ (labeled, e.g. from import-annotations), real_unlabeled/
# (real photos without labels, none held out for testing) and synthetic_train/ (rendered here
# with `autosalt synth --look broad` if absent). Extra key=value overrides go to every run
# (e.g. train.epochs=1 for a smoke test). Each run's best.pt is copied to OUT/<name>.pt as
# soon as it ends; logs and metrics go to OUT/logs.tar.gz (run folders: RUNS, default
# OUT/runs). RUN_LIMIT (seconds) stops a run that takes longer; its best.pt so far is kept.
# Score the checkpoints with benchmarks/bench_real.py (real photos) and
# benchmarks/bench_model.py (synthetic test set).
# Runs go in parallel waves (PARALLEL, default 4), which suits one GPU and many CPU cores.
set -uo pipefail
DATA=$(realpath "$1"); OUT=$(realpath -m "$2"); shift 2
PYTHON=${PYTHON:-python3}
PARALLEL=${PARALLEL:-4}
WORKERS=${WORKERS:-3}
export NO_ALBUMENTATIONS_UPDATE=1 HF_HUB_OFFLINE=1
RUNS=$(realpath -m "${RUNS:-$OUT/runs}")
mkdir -p "$OUT" "$RUNS"
if [ ! -f "$DATA/synthetic_train/truth.csv" ]; then
    "$PYTHON" -m autosalt synth "$DATA/synthetic_train" --patients 150 --visits 2 --seed 9300 \
        --size 288 288 --look broad --quiet || exit 1
fi
R=$DATA/real_tr; S=$DATA/synthetic_train; U=$DATA/real_unlabeled
ALL=("data.roots=[$R,$S]" "data.root_weights=[0.5,0.5]" "data.style_photos=[$U]" "data.style_roots=[$S]"
     "data.unlabeled=[$U]" "data.val_roots=[$DATA/real_val]" "data.workers=$WORKERS")

run() {  # run NAME overrides...
    local name=$1; shift
    local started=$SECONDS
    timeout "${RUN_LIMIT:-86400}" "$PYTHON" -m autosalt train --config configs/real.yaml --init models/autosalt-default.pt --quiet \
        "${ALL[@]}" "$@" ${EXTRA[@]+"${EXTRA[@]}"} "out=$RUNS/$name" > "$RUNS/$name.log" 2>&1
    local status=$?
    [ -f "$RUNS/$name/best.pt" ] && cp "$RUNS/$name/best.pt" "$OUT/$name.pt"
    echo "$name: exit $status after $((SECONDS - started)) s"
}
EXTRA=("$@")

wave() {  # runs the given "name|overrides" specs, PARALLEL at a time
    for spec in "$@"; do
        IFS='|' read -r -a parts <<< "$spec"
        run "${parts[@]}" &
        while [ "$(jobs -rp | wc -l)" -ge "$PARALLEL" ]; do sleep 1; done
    done
    wait
}

wave "full" \
     "no_selftrain|train.self_training_weight=0" \
     "no_style|data.style_roots=[]" \
     "no_synthetic|data.roots=[$R]|data.root_weights=[]|data.style_roots=[]" \
     "no_real|data.roots=[$S]|data.root_weights=[]" \
     "no_turns|train.rotate90_p=0.15"
tar -czf "$OUT/logs.tar.gz" --exclude="*.pt" -C "$(dirname "$RUNS")" "$(basename "$RUNS")"

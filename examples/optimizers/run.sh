#!/bin/sh
# nl — see LICENSE. The paper's toy experiments on optimizers with nl's optimizers: the ψ valley
# of eq. 53 and the orthogonal-task regression of eq. 45 (examples/optimizers/toys.c says
# what each is), summaries on standard output, data and PNGs (gnuplot) in build/optimizers/.
# Usage: sh examples/optimizers/run.sh   (from the repository root)
set -e
out=build/optimizers
make -s build/examples/optimizers/toys
mkdir -p "$out"
echo "# psi: final ψ and steps until ψ < 0.01 (-1: never) at each optimizer's best rate"
build/examples/optimizers/toys psi "$out/psi.tsv"
echo "# continual: losses on task 1 just after it and at the end, forgetting (mean rise on tasks 1-3)"
build/examples/optimizers/toys continual "$out/continual.tsv"
if command -v gnuplot > /dev/null; then
	gnuplot -e "dir='$out'" examples/optimizers/plot.gp
	echo "plots: $out/psi.png $out/continual.png"
else
	echo "no gnuplot (Debian gnuplot-nox): plots skipped; data in $out/"
fi

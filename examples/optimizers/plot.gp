# nl — see LICENSE. gnuplot script of examples/optimizers/run.sh: dir is the output folder.
set terminal pngcairo size 1100,480 font ",10"
set datafile separator "\t"
set key outside right
set format y "%g"
psi_names = "sgd momentum delta-momentum dmgd muon m3"
cont_names = "sgd momentum delta-momentum dmgd dgd dgd-target muon m3"

set output dir."/psi.png"
set multiplot layout 1,2 title "ψ(r,θ) = r² + 10 (r − θ + 0.5 sin 4r)² from (−3.5, 2), best rate of each optimizer"
set xlabel "r"; set ylabel "θ"
set xrange [-4:1]; set yrange [-3:3]
set samples 500
plot x + 0.5 * sin(4 * x) with lines lc rgb "#bbbbbb" title "valley floor", \
     for [i = 0:5] dir."/psi.tsv" index i using 4:5 with lines lc i + 1 title word(psi_names, i + 1)
set xlabel "step"; set ylabel "ψ"; set logscale y
set xrange [0:300]; set yrange [1e-6:1e3]
plot for [i = 0:5] dir."/psi.tsv" index i using 3:6 with lines lc i + 1 title word(psi_names, i + 1)
unset multiplot
unset logscale y

set output dir."/continual.png"
set multiplot layout 1,2 title "orthogonal tasks (eq. 45): 4 tasks of 60 steps, each in its own input subspace"
set xlabel "step"; set ylabel "loss on task 1"; set logscale y
set xrange [0:240]; set yrange [*:*]
set arrow from 60, graph 0 to 60, graph 1 nohead dt 2
set arrow from 120, graph 0 to 120, graph 1 nohead dt 2
set arrow from 180, graph 0 to 180, graph 1 nohead dt 2
plot for [i = 0:7] dir."/continual.tsv" index i using 3:4 with lines lc i + 1 title word(cont_names, i + 1)
set ylabel "mean loss over the 4 tasks"
plot for [i = 0:7] dir."/continual.tsv" index i using 3:(($4 + $5 + $6 + $7) / 4) with lines \
     lc i + 1 title word(cont_names, i + 1)
unset multiplot

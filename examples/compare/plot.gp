# nl — see LICENSE. The context-usage curves of examples/compare/run.sh: mean loss by stream
# position (power-of-2 buckets) of every model, learning (--adapt, solid) and frozen
# (--no-adapt, dashed). gnuplot -e "dir='build/compare/shakespeare-small'" examples/compare/plot.gp
set terminal pngcairo size 900,520 font ",10"
set output dir."/curves.png"
set datafile separator "\t"
set key outside right
set logscale x 2
set xlabel "stream position (bucket start)"
set ylabel "mean loss (nats)"
set title "context usage: ".dir
names = "transformer titans hope-attention hope"
set xrange [8:*]
plot for [i = 0:3] dir."/curves.tsv" index 2 * i using 2:5 with linespoints lc i + 1 pt 7 \
         ps 0.5 title word(names, i + 1)." --adapt", \
     for [i = 0:3] dir."/curves.tsv" index 2 * i + 1 using 2:5 with lines lc i + 1 dt 2 \
         title word(names, i + 1)." --no-adapt"

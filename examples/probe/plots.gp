# nl — see LICENSE. The pictures of examples/probe/run.sh from its .dat files in `out`: data
# blocks per memory, level or mode, each headed by its name, columns x, mean (, second mean)
# over layers and heads; dh the heads' width.
set terminal pngcairo size 1200,500 font "sans,10" noenhanced
set key outside right top
set grid

set output out.'/updates.png'
set multiplot layout 1,2 title "Update norm ||W' - W|| of every write over 32,000 tokens of held-out MQAR (mean over layers and heads)"
set logscale y
set format y "1e%T"
set xlabel 'tokens read'
set ylabel "||W' - W|| (below 1e-12 off the plot)"
set yrange [1e-12:10]
set title 'hope'
plot for [i=0:*] out.'/hope.updates.dat' index i using 1:2 with lines lw 1 title columnheader(1)
set title 'titans'
plot for [i=0:*] out.'/titans.updates.dat' index i using 1:2 with lines lw 1 title columnheader(1)
unset multiplot
set yrange [*:*]

set output out.'/capacity.png'
set multiplot layout 1,2 title sprintf("m_mem's recall of N associations (d_h = %d, dashed; mean over layers and heads)", dh)
set logscale x 2
set xlabel 'associations written N'
set arrow 1 from dh, graph 0 to dh, graph 1 nohead dt 2 lc rgb 'gray'
set title 'accuracy: the read is nearest its own value'
unset logscale y
set format y "%g"
set yrange [0:1.05]
set ylabel 'accuracy'
plot out.'/linear.capacity.dat' using 1:3 with linespoints lw 2 dt 2 lc rgb 'black' title 'linear, delta rule', \
     for [m in "hope titans"] for [i=0:1] out.'/'.m.'.capacity.dat' index i using 1:3 with linespoints lw 1.5 title m.' '.(i ? 'model' : 'direct'), \
     1/x with lines dt 3 lc rgb 'gray' title 'chance 1/N'
set title 'error'
set ylabel 'mean ||M(k_i) - v_i||^2 / ||v_i||^2 (+1e-9)'
set logscale y
set format y "1e%T"
set yrange [*:*]
plot out.'/linear.capacity.dat' using 1:($2 + 1e-9) with linespoints lw 2 dt 2 lc rgb 'black' title 'linear, delta rule', \
     for [m in "hope titans"] for [i=0:1] out.'/'.m.'.capacity.dat' index i using 1:($2 + 1e-9) with linespoints lw 1.5 title m.' '.(i ? 'model' : 'direct')
unset multiplot
unset arrow 1

set output out.'/retention.png'
set multiplot layout 1,2 title "Retention: what of one association each memory and CMS level still holds after D tokens (trace over its largest; mean over layers and heads)"
set xlabel 'tokens read after the association D'
set ylabel 'held'
set logscale x 2
set logscale y
set yrange [1e-6:1.5]
set title 'hope'
plot for [i=0:*] out.'/hope.retention.dat' index i using 1:2 with linespoints lw 1.5 title columnheader(1)
set title 'titans'
plot for [i=0:*] out.'/titans.retention.dat' index i using 1:2 with linespoints lw 1.5 title columnheader(1)
unset multiplot
unset logscale
set yrange [*:*]
set format y "%g"

set output out.'/gates.png'
set multiplot layout 1,2 title "m_mem's write gates over held-out MQAR: each chunk's mean, every layer and head"
set style fill transparent solid 0.5
set ylabel 'chunks'
bin(x, w) = w * floor(x / w) + w / 2
set title 'step size η_t'
set xlabel 'η_t'
plot for [m in "hope titans"] out.'/'.m.'.gates.dat' using (bin($1, 0.004)):(1) smooth freq with boxes title m
set title 'retention α_t (1 keeps everything)'
set xlabel 'α_t'
plot for [m in "hope titans"] out.'/'.m.'.gates.dat' using (bin($2, 0.001)):(1) smooth freq with boxes title m
unset multiplot

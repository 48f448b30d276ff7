# nl — see LICENSE. The continual-learning matrix R as a heat map: rows `(init)` and after
# each domain, columns the domains' held-out sets, bits per byte in each cell.
set terminal pngcairo size 760,560 font "sans,10" noenhanced
set output out
n = words(domains)
set title sprintf("%s: bits per byte on each domain (columns) after each refresh (rows)", model)
set xtics () ; set ytics ()
do for [j = 1:n] { set xtics add (word(domains, j) j - 1) }
set ytics add ("(init)" 0)
do for [i = 1:n] { set ytics add ("after ".word(domains, i) i) }
set yrange [n + 0.5:-0.5]
set xrange [-0.5:n - 0.5]
set xlabel 'held-out domain'
set cblabel 'bits per byte (lower is better)'
set palette defined (0 '#1a9850', 1 '#fee08b', 2 '#d73027')
plot in using 2:1:3 with image notitle, \
     in using 2:1:(sprintf("%.2f", $3)) with labels notitle

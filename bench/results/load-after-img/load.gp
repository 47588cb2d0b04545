set terminal pngcairo size 1680,380 font ",10"
set output 'bench/results/load-after-img/load-latency.png'
set multiplot layout 1,4 title "Latency percentiles vs concurrency (ms, log scale)"
set logscale x 2
set logscale y
set grid
set key top left
set xlabel "concurrency"
set title "search"
plot 'bench/results/load-after-img/load-search.dat' using 1:2 with linespoints title "p50", '' using 1:3 with linespoints title "p95", '' using 1:4 with linespoints title "p99"
set title "context"
plot 'bench/results/load-after-img/load-context.dat' using 1:2 with linespoints title "p50", '' using 1:3 with linespoints title "p95", '' using 1:4 with linespoints title "p99"
set title "write"
plot 'bench/results/load-after-img/load-write.dat' using 1:2 with linespoints title "p50", '' using 1:3 with linespoints title "p95", '' using 1:4 with linespoints title "p99"
set title "mixed"
plot 'bench/results/load-after-img/load-mixed.dat' using 1:2 with linespoints title "p50", '' using 1:3 with linespoints title "p95", '' using 1:4 with linespoints title "p99"
unset multiplot
set terminal pngcairo size 640,400 font ",10"
set output 'bench/results/load-after-img/load-throughput.png'
set title "Throughput vs concurrency (requests/s)"
unset logscale y
set logscale x 2
set key top left
set yrange [0:*]
plot 'bench/results/load-after-img/load-search.dat' using 1:5 with linespoints title "search", 'bench/results/load-after-img/load-context.dat' using 1:5 with linespoints title "context", 'bench/results/load-after-img/load-write.dat' using 1:5 with linespoints title "write", 'bench/results/load-after-img/load-mixed.dat' using 1:5 with linespoints title "mixed"

set terminal pngcairo size 900,560 font ",10"
set output "memory.png"
set title "Memory per live process (bytes, lower is better)"
set grid ytics
set key top left
set style data histogram
set style histogram rowstacked
set style fill solid 0.6 border -1
set boxwidth 0.5
set ylabel "bytes per process"
set yrange [0:*]
plot 'memory.dat' using 2:xtic(1) title 'user space (termite: RSS; Erlang: memory(processes))', \
     '' using 3 title 'kernel (Slab)'

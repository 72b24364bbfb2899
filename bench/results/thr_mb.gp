set terminal pngcairo size 900,560 font ",10"
set output "thr_mb.png"
set title "One-way throughput, bytes (unpinned)"
set grid ytics
set key top left
set logscale xy
set xtics ("16" 16, "64" 64, "1 Ki" 1024, "64 Ki" 65536)
set xrange [10:100000]
set xlabel "message size (bytes)"
set ylabel "MiB per second"
plot 'thr_mb.dat' using 1:2:3:4 with yerrorlines lw 2 title 'termite (ioctl)', 'thr_mb.dat' using 1:5:6:7 with yerrorlines lw 2 title 'termite (library)', 'thr_mb.dat' using 1:8:9:10 with yerrorlines lw 2 title 'pipes', 'thr_mb.dat' using 1:11:12:13 with yerrorlines lw 2 title 'unix seqpacket', 'thr_mb.dat' using 1:14:15:16 with yerrorlines lw 2 title 'POSIX mqueue'

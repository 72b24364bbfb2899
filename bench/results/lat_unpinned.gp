set terminal pngcairo size 900,560 font ",10"
set output "lat_unpinned.png"
set title "Round-trip latency, unpinned (2 vCPUs)"
set grid ytics
set key top left
set logscale xy
set xtics ("16" 16, "64" 64, "1 Ki" 1024, "64 Ki" 65536)
set xrange [10:100000]
set xlabel "message size (bytes)"
set ylabel "microseconds per round trip"
plot 'lat_unpinned.dat' using 1:2:3:4 with yerrorlines lw 2 title 'termite (ioctl)', 'lat_unpinned.dat' using 1:5:6:7 with yerrorlines lw 2 title 'termite (library)', 'lat_unpinned.dat' using 1:8:9:10 with yerrorlines lw 2 title 'pipes', 'lat_unpinned.dat' using 1:11:12:13 with yerrorlines lw 2 title 'unix seqpacket', 'lat_unpinned.dat' using 1:14:15:16 with yerrorlines lw 2 title 'POSIX mqueue'

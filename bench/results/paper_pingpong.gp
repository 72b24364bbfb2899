set terminal pngcairo size 900,560 font ",10"
set output "paper_pingpong.png"
set title "Termite paper 7.3.1: local ping-pong, us per message (lower is better)"
set grid ytics
set key top left
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.6 border -1
set ylabel "microseconds"
set yrange [0:*]

plot 'paper_pingpong.dat' using 2:3:4:xtic(1) title 'termite (library)', 'paper_pingpong.dat' using 5:6:7 title 'Erlang/OTP'

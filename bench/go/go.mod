module gmpos/bench

go 1.19

// The Go peer of gmpos's benchmark suite (shared/BENCH.md): the same
// workloads, definitions and output format as kernel/src/bench/, so that
// `make bench-compare` can run both in the same emulator and compare them.
//
//	bench [-only name[,name...]] [-procs 1,2] [-rep]
//
// spawn_cold and park_memory need a fresh process per repetition: the
// parent re-executes itself with -rep for each one and folds the results.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func minf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		if x < m {
			m = x
		}
	}
	return m
}

func report(name string, procs int, n int64, perOp []float64, extras string) {
	if extras != "" {
		extras = " " + extras
	}
	fmt.Printf("bench=%s procs=%d n=%d ns_per_op=%.1f min_ns_per_op=%.1f reps=%d%s\n",
		name, procs, n, median(perOp), minf(perOp), len(perOp), extras)
}

func repeat(warm, reps int, rep func() float64) []float64 {
	for i := 0; i < warm; i++ {
		rep()
	}
	out := make([]float64, 0, reps)
	for i := 0; i < reps; i++ {
		out = append(out, rep())
	}
	return out
}

// gcBase is NumGC when the current workload started: gcs= counts the
// collections the workload itself triggered.
var gcBase uint32

func numGC() uint32 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.NumGC
}

func gcs() string {
	return "gcs=" + strconv.Itoa(int(numGC()-gcBase))
}

// 1. spawn
const spawnN = 100000

func spawnOnce() float64 {
	var wg sync.WaitGroup
	wg.Add(spawnN)
	t0 := time.Now()
	for i := 0; i < spawnN; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	return float64(time.Since(t0).Nanoseconds()) / spawnN
}

func benchSpawn(procs int) {
	report("spawn", procs, spawnN, repeat(1, 7, spawnOnce), gcs())
}

// 1b. spawn_cold: one repetition in this (fresh) process.
func benchSpawnCold(procs int) {
	report("spawn_cold", procs, spawnN, []float64{spawnOnce()}, gcs()+" fresh_process=1")
}

// 2. yield
func benchYield(procs int) {
	const n = 1000000
	s := repeat(1, 5, func() float64 {
		var wg sync.WaitGroup
		wg.Add(2)
		t0 := time.Now()
		for i := 0; i < 2; i++ {
			go func() {
				for j := 0; j < n; j++ {
					runtime.Gosched()
				}
				wg.Done()
			}()
		}
		wg.Wait()
		return float64(time.Since(t0).Nanoseconds()) / (2 * n)
	})
	report("yield", procs, 2*n, s, gcs())
}

// 3. pingpong
func benchPingpong(procs int) {
	const n = 1000000
	s := repeat(1, 5, func() float64 {
		a, b := make(chan int), make(chan int)
		var wg sync.WaitGroup
		var last int
		wg.Add(2)
		t0 := time.Now()
		go func() {
			v := 0
			for i := 0; i < n; i++ {
				a <- v
				v = <-b
			}
			last = v
			wg.Done()
		}()
		go func() {
			for i := 0; i < n; i++ {
				v := <-a
				b <- v + 1
			}
			wg.Done()
		}()
		wg.Wait()
		dt := time.Since(t0)
		if last != n {
			panic("pingpong: final v")
		}
		return float64(dt.Nanoseconds()) / n
	})
	report("pingpong", procs, n, s, gcs())
}

// 4. chan_buffered
func benchChanBuffered(procs int) {
	const n = 10000000
	s := repeat(1, 5, func() float64 {
		ch := make(chan int, 128)
		var wg sync.WaitGroup
		var sum int
		wg.Add(2)
		t0 := time.Now()
		go func() {
			for i := 0; i < n; i++ {
				ch <- i
			}
			close(ch)
			wg.Done()
		}()
		go func() {
			s := 0
			for v := range ch {
				s += v
			}
			sum = s
			wg.Done()
		}()
		wg.Wait()
		dt := time.Since(t0)
		if sum != n*(n-1)/2 {
			panic("chan_buffered: sum")
		}
		return float64(dt.Nanoseconds()) / n
	})
	report("chan_buffered", procs, n, s, gcs())
}

// 5. mutex
func benchMutex(procs int) {
	const perG, gs = 1000000, 4
	s := repeat(1, 5, func() float64 {
		var mu sync.Mutex
		counter := 0
		var wg sync.WaitGroup
		wg.Add(gs)
		t0 := time.Now()
		for g := 0; g < gs; g++ {
			go func() {
				for i := 0; i < perG; i++ {
					mu.Lock()
					counter++
					mu.Unlock()
				}
				wg.Done()
			}()
		}
		wg.Wait()
		dt := time.Since(t0)
		if counter != gs*perG {
			panic("mutex: counter")
		}
		return float64(dt.Nanoseconds()) / (gs * perG)
	})
	report("mutex", procs, gs*perG, s, gcs())
}

// 6. fanout
var spawned int64
var fanoutP1 float64

//go:noinline
func sfib(n int) int {
	if n < 2 {
		return n
	}
	return sfib(n-1) + sfib(n-2)
}

//go:noinline
func pfib(n int) int {
	if n < 12 {
		return sfib(n)
	}
	ch := make(chan int, 1)
	atomic.AddInt64(&spawned, 1)
	go func() { ch <- pfib(n - 1) }()
	b := pfib(n - 2)
	return <-ch + b
}

func benchFanout(procs int) {
	once := func() (float64, float64) {
		atomic.StoreInt64(&spawned, 0)
		t0 := time.Now()
		r := pfib(27)
		dt := time.Since(t0)
		if r != 196418 || atomic.LoadInt64(&spawned) != 2583 {
			panic("fanout: result or goroutine count")
		}
		t1 := time.Now()
		if sfib(27) != 196418 {
			panic("fanout: sfib")
		}
		return float64(dt.Nanoseconds()), float64(time.Since(t1).Nanoseconds())
	}
	for i := 0; i < 3; i++ {
		once()
	}
	var total, serial []float64
	for i := 0; i < 51; i++ {
		t, s := once()
		total = append(total, t)
		serial = append(serial, s)
	}
	med := median(total)
	extras := fmt.Sprintf("goroutines=2583 serial_ns=%.0f", median(serial))
	if procs == 1 {
		fanoutP1 = med
	} else if fanoutP1 > 0 {
		extras += fmt.Sprintf(" speedup_vs_p1=%.2f", fanoutP1/med)
	}
	report("fanout", procs, 1, total, extras+" "+gcs())
}

// 7. sieve
func generate(out chan<- int) {
	for i := 2; i <= 17389; i++ {
		out <- i
	}
	close(out)
}

func filter(in <-chan int, out chan<- int, prime int) {
	for i := range in {
		if i%prime != 0 {
			out <- i
		}
	}
	close(out)
}

func sieveMsgs() int {
	var primes []int
	msgs := 0
	for i := 2; i <= 17389; i++ {
		j := -1
		for k, q := range primes {
			if i%q == 0 {
				j = k
				break
			}
		}
		if j >= 0 {
			msgs += 1 + j
		} else {
			msgs += 1 + len(primes)
			if len(primes) < 1999 {
				primes = append(primes, i)
			}
		}
	}
	return msgs
}

func benchSieve(procs int) {
	msgs := sieveMsgs()
	if msgs != 2042625 {
		panic("sieve: simulated message count")
	}
	s := repeat(1, 5, func() float64 {
		t0 := time.Now()
		ch := make(chan int)
		go generate(ch)
		p := 0
		for k := 1; k <= 2000; k++ {
			v, ok := <-ch
			if !ok {
				panic("sieve: closed early")
			}
			p = v
			if k < 2000 {
				ch1 := make(chan int)
				go filter(ch, ch1, p)
				ch = ch1
			}
		}
		if _, ok := <-ch; ok {
			panic("sieve: value after the 2000th prime")
		}
		dt := time.Since(t0)
		if p != 17389 {
			panic("sieve: 2000th prime")
		}
		return float64(dt.Nanoseconds())
	})
	report("sieve", procs, 1, s, fmt.Sprintf("msgs=%d ns_per_msg=%.1f %s", msgs, median(s)/float64(msgs), gcs()))
}

// 8 and 10: lateness statistics.
type lateness struct {
	medians          []float64
	p50, p90, mn, mx []float64
	maxall           float64
}

func (l *lateness) add(v []float64) {
	sort.Float64s(v)
	n := len(v)
	l.medians = append(l.medians, v[n/2])
	l.p50 = append(l.p50, v[n/2])
	l.p90 = append(l.p90, v[n*9/10])
	l.mn = append(l.mn, v[0])
	l.mx = append(l.mx, v[n-1])
	if v[n-1] > l.maxall {
		l.maxall = v[n-1]
	}
}

func (l *lateness) line(name string, n int64) {
	us := func(x []float64) string {
		s := append([]float64(nil), x...)
		sort.Float64s(s)
		return fmt.Sprintf("%.1f", s[len(s)/2]/1000)
	}
	report(name, 1, n, l.medians, fmt.Sprintf("lat_p50_us=%s lat_p90_us=%s lat_min_us=%s lat_max_us=%s lat_maxall_us=%.1f %s",
		us(l.p50), us(l.p90), us(l.mn), us(l.mx), l.maxall/1000, gcs()))
}

var started, stop int32
var sink int64

func benchPreemptLatency(procs int) {
	var l lateness
	for r := 0; r < 3; r++ {
		atomic.StoreInt32(&started, 0)
		atomic.StoreInt32(&stop, 0)
		var wg sync.WaitGroup
		wg.Add(2)
		var samples []float64
		go func() {
			atomic.StoreInt32(&started, 1)
			x := int64(0)
			for atomic.LoadInt32(&stop) == 0 {
				x++
			}
			sink = x
			wg.Done()
		}()
		go func() {
			for atomic.LoadInt32(&started) == 0 {
				runtime.Gosched()
			}
			for i := 0; i < 100; i++ {
				t0 := time.Now()
				time.Sleep(time.Millisecond)
				samples = append(samples, float64(time.Since(t0)-time.Millisecond))
			}
			atomic.StoreInt32(&stop, 1)
			wg.Done()
		}()
		wg.Wait()
		l.add(samples)
	}
	l.line("preempt_latency", 100)
}

func benchSleepAccuracy(procs int) {
	var l lateness
	for r := 0; r < 5; r++ {
		var wg sync.WaitGroup
		wg.Add(1)
		var samples []float64
		go func() {
			for i := 0; i < 200; i++ {
				t0 := time.Now()
				time.Sleep(time.Millisecond)
				samples = append(samples, float64(time.Since(t0)-time.Millisecond))
			}
			wg.Done()
		}()
		wg.Wait()
		l.add(samples)
	}
	l.line("sleep_accuracy", 200)
}

// 9. park_memory: one repetition in this (fresh) process.
func benchParkMemory(procs int) {
	const n = 100000
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m0)
	ch := make(chan struct{})
	var st, ex sync.WaitGroup
	st.Add(n)
	ex.Add(n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			st.Done()
			<-ch
			ex.Done()
		}()
	}
	st.Wait()
	spawnNs := float64(time.Since(t0).Nanoseconds()) / n
	time.Sleep(50 * time.Millisecond)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	t1 := time.Now()
	close(ch)
	ex.Wait()
	wake := float64(time.Since(t1).Nanoseconds()) / n
	d := func(a, b uint64) int64 { return (int64(b) - int64(a)) / n }
	report("park_memory", procs, n, []float64{wake}, fmt.Sprintf(
		"sys_B_per_g=%d stack_B_per_g=%d heap_B_per_g=%d total_B_per_g=%d spawn_ns_per_g=%.0f %s fresh_process=1",
		d(m0.Sys, m1.Sys), d(m0.StackInuse, m1.StackInuse), d(m0.HeapInuse, m1.HeapInuse),
		d(m0.StackInuse+m0.HeapInuse, m1.StackInuse+m1.HeapInuse), spawnNs, gcs()))
}

type workload struct {
	name  string
	run   func(int)
	procs []int
	fresh int // repetitions in fresh processes (0: in this one)
}

var workloads = []workload{
	{"spawn", benchSpawn, []int{1, 2}, 0},
	{"spawn_cold", benchSpawnCold, []int{1, 2}, 3},
	{"yield", benchYield, []int{1, 2}, 0},
	{"pingpong", benchPingpong, []int{1, 2}, 0},
	{"chan_buffered", benchChanBuffered, []int{1, 2}, 0},
	{"mutex", benchMutex, []int{1, 2}, 0},
	{"fanout", benchFanout, []int{1, 2}, 0},
	{"sieve", benchSieve, []int{1, 2}, 0},
	{"preempt_latency", benchPreemptLatency, []int{1}, 0},
	{"park_memory", benchParkMemory, []int{1, 2}, 5},
	{"sleep_accuracy", benchSleepAccuracy, []int{1}, 0},
}

// fold merges the reps=1 lines of fresh-process repetitions into one:
// ns_per_op the median, min_ns_per_op the minimum, numeric extras medians.
func fold(lines []string) string {
	vals := map[string][]float64{}
	var keys []string
	last := map[string]string{}
	for _, l := range lines {
		for _, f := range strings.Fields(l) {
			kv := strings.SplitN(f, "=", 2)
			if _, ok := last[kv[0]]; !ok {
				keys = append(keys, kv[0])
			}
			last[kv[0]] = kv[1]
			if v, err := strconv.ParseFloat(kv[1], 64); err == nil {
				vals[kv[0]] = append(vals[kv[0]], v)
			}
		}
	}
	var out []string
	for _, k := range keys {
		v := last[k]
		switch {
		case k == "reps":
			v = strconv.Itoa(len(lines))
		case k == "min_ns_per_op":
			v = fmt.Sprintf("%.1f", minf(vals["ns_per_op"]))
		case k == "ns_per_op":
			v = fmt.Sprintf("%.1f", median(vals[k]))
		case k == "bench" || k == "procs" || k == "n":
		case len(vals[k]) == len(lines):
			v = strconv.FormatFloat(median(vals[k]), 'f', -1, 64)
		}
		out = append(out, k+"="+v)
	}
	return strings.Join(out, " ")
}

func main() {
	only := flag.String("only", "", "comma-separated workloads (default: all)")
	procsFlag := flag.String("procs", "1,2", "comma-separated GOMAXPROCS values")
	rep := flag.Bool("rep", false, "run one repetition of -only at -procs (a fresh process)")
	flag.Parse()
	sel := map[string]bool{}
	for _, w := range strings.Split(*only, ",") {
		if w != "" {
			sel[w] = true
		}
	}
	var procsList []int
	for _, p := range strings.Split(*procsFlag, ",") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "bad -procs")
			os.Exit(2)
		}
		procsList = append(procsList, n)
	}
	for _, w := range workloads {
		if len(sel) > 0 && !sel[w.name] {
			continue
		}
		for _, p := range w.procs {
			found := false
			for _, q := range procsList {
				found = found || q == p
			}
			if !found {
				continue
			}
			if *rep || w.fresh == 0 {
				runtime.GOMAXPROCS(p)
				gcBase = numGC()
				w.run(p)
				continue
			}
			var lines []string
			for r := 0; r < w.fresh; r++ {
				cmd := exec.Command(os.Args[0], "-rep", "-only", w.name, "-procs", strconv.Itoa(p))
				cmd.Stderr = os.Stderr
				out, err := cmd.Output()
				if err != nil {
					fmt.Fprintf(os.Stderr, "%s procs=%d: %v\n", w.name, p, err)
					os.Exit(1)
				}
				lines = append(lines, strings.TrimSpace(string(out)))
			}
			fmt.Println(fold(lines))
		}
	}
}

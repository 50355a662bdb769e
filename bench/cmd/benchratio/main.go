// Command benchratio reads `go test -bench -benchmem` output and prints, for
// each benchmark group, the ratio of every grelmicro-go implementation (a
// last name element starting with "grel") to every peer in the same group
// (everything before the last element, so BenchmarkX/redis/grel meets
// BenchmarkX/redis/redsync only): ours / theirs for ns/op and allocs/op, plus
// any extra metrics (roundtrips/op) side by side.
//
//	go test -run '^$' -bench . -benchmem ./... | go run ./cmd/benchratio
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

type result struct {
	group, impl string
	cpu         string
	metrics     map[string]float64
	order       []string
}

var cpuSuffix = regexp.MustCompile(`-(\d+)$`)

func parse(r io.Reader) []result {
	var out []result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		cpu := ""
		if m := cpuSuffix.FindStringSubmatch(name); m != nil {
			cpu = m[1]
			name = strings.TrimSuffix(name, m[0])
		}
		// The last path element is the implementation; what comes before it
		// is the group (BenchmarkLockAcquireRelease/redis/redsync compares
		// within LockAcquireRelease/redis only).
		full := strings.TrimPrefix(name, "Benchmark")
		i := strings.LastIndex(full, "/")
		if i < 0 {
			continue
		}
		group, impl := full[:i], full[i+1:]
		res := result{group: group, impl: impl, cpu: cpu, metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			res.metrics[f[i+1]] = v
			res.order = append(res.order, f[i+1])
		}
		out = append(out, res)
	}
	return out
}

func ours(impl string) bool { return strings.HasPrefix(impl, "grel") }

func main() {
	results := parse(os.Stdin)
	type key struct{ group, cpu string }
	groups := map[key][]result{}
	var keys []key
	for _, r := range results {
		k := key{r.group, r.cpu}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], r)
	}
	fmt.Println("| benchmark | cpu | ours | theirs | ns/op ours | ns/op theirs | time ratio | allocs ours | allocs theirs | extra |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, k := range keys {
		rs := groups[k]
		var mine, peers []result
		for _, r := range rs {
			if ours(r.impl) {
				mine = append(mine, r)
			} else {
				peers = append(peers, r)
			}
		}
		for _, m := range mine {
			if len(peers) == 0 {
				fmt.Printf("| %s | %s | %s | - | %s | - | - | %s | - | %s |\n", k.group, k.cpu, m.impl, num(m.metrics["ns/op"]), num(m.metrics["allocs/op"]), extra(m, result{}))
			}
			for _, p := range peers {
				ratio := "-"
				if p.metrics["ns/op"] > 0 {
					ratio = fmt.Sprintf("%.2fx", m.metrics["ns/op"]/p.metrics["ns/op"])
				}
				fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", k.group, k.cpu, m.impl, p.impl,
					num(m.metrics["ns/op"]), num(p.metrics["ns/op"]), ratio, num(m.metrics["allocs/op"]), num(p.metrics["allocs/op"]), extra(m, p))
			}
		}
	}
}

func extra(m, p result) string {
	var parts []string
	names := slices.Clone(m.order)
	for _, n := range p.order {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, n := range names {
		switch n {
		case "ns/op", "B/op", "allocs/op":
			continue
		}
		mv, mok := m.metrics[n]
		pv, pok := p.metrics[n]
		s := n + " "
		if mok {
			s += num(mv)
		} else {
			s += "-"
		}
		if p.group != "" {
			if pok {
				s += " vs " + num(pv)
			} else {
				s += " vs -"
			}
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func num(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat (USER_HZ, 100 on
// every Linux architecture Go supports).
const userHZ = 100

// ProcStat is a process's CPU time and memory, read from /proc (Linux).
type ProcStat struct {
	CPU time.Duration // user + system
	RSS int64         // VmRSS, bytes
	HWM int64         // VmHWM (peak RSS), bytes
}

// ReadProc reads pid's CPU time and memory; pid 0 is this process.
func ReadProc(pid int) (ProcStat, error) {
	dir := "/proc/self"
	if pid != 0 {
		dir = "/proc/" + strconv.Itoa(pid)
	}
	var ps ProcStat
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return ps, err
	}
	// Fields after the command name, which is in parentheses and may
	// hold spaces: state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return ps, fmt.Errorf("%s/stat: no command name", dir)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return ps, fmt.Errorf("%s/stat: %d fields", dir, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return ps, fmt.Errorf("%s/stat: bad utime/stime %q %q", dir, f[11], f[12])
	}
	ps.CPU = time.Duration(ut+st) * time.Second / userHZ
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return ps, err
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return ps, fmt.Errorf("%s/status: %s: %w", dir, name, err)
		}
		if name == "VmRSS" {
			ps.RSS = kb << 10
		} else {
			ps.HWM = kb << 10
		}
	}
	return ps, nil
}

// MachineCPU is the CPU time of all cores together, from /proc/stat.
type MachineCPU struct {
	Total   time.Duration // every state
	Busy    time.Duration // all but idle and iowait
	SoftIRQ time.Duration // softirq (on loopback, much of TCP's receive work)
}

// ReadMachineCPU reads the aggregate "cpu" line of /proc/stat.
func ReadMachineCPU() (MachineCPU, error) {
	var m MachineCPU
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return m, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return m, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var ticks [7]int64 // user nice system idle iowait irq softirq
	for i := range ticks {
		if ticks[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
			return m, fmt.Errorf("/proc/stat: %w", err)
		}
	}
	var total int64
	for _, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return m, fmt.Errorf("/proc/stat: %w", err)
		}
		total += n
	}
	// guest and guest_nice (the last two) are already in user and nice.
	if len(f) >= 11 {
		g1, _ := strconv.ParseInt(f[9], 10, 64)
		g2, _ := strconv.ParseInt(f[10], 10, 64)
		total -= g1 + g2
	}
	tick := func(n int64) time.Duration { return time.Duration(n) * time.Second / userHZ }
	m.Total = tick(total)
	m.Busy = tick(total - ticks[3] - ticks[4])
	m.SoftIRQ = tick(ticks[6])
	return m, nil
}

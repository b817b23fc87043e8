package ssh

// SetSweepTrace has f told of each of tr's sweeps.
func SetSweepTrace(tr *Transport, f func(Sweep)) { tr.trace = f }

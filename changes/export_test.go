package changes

// PlannedSnapshots reports how many snapshots' live files have been
// planned (and kept): the changes of a snapshot read from its own
// manifests plan none.
func PlannedSnapshots() int { return planned.Len() }

// ForgetPlans empties the cache of planned snapshots.
func ForgetPlans() { planned.Purge() }

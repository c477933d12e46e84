package activities

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/kanri-itsm/kanri/store"
)

// ServiceTarget is a service target a supplier's contract commits to for
// one service and incident priority, aligned to the customer's SLA: no
// looser than the SLA's target of that priority.
type ServiceTarget struct {
	Service    string `json:"service"`
	Priority   string `json:"priority"`
	Response   string `json:"response"`
	Resolution string `json:"resolution"`
}

// FiguresInput asks for a supplier's figures over a period.
type FiguresInput struct {
	Services []string        `json:"services"`
	CIs      []string        `json:"cis"`
	From     time.Time       `json:"from"`
	To       time.Time       `json:"to"`
	Targets  []ServiceTarget `json:"targets"`
}

// TargetFigure is how one contract target fared: incidents of its service
// and priority in the period, how many met the target (resolved without a
// breach), how many breached it and how many are pending (open and not
// breached yet), and the share met of those decided, met / (met +
// breached), in percent (100 with none decided), as the service report
// measures SLA achievement.
type TargetFigure struct {
	ServiceTarget
	Incidents   int64   `json:"incidents"`
	Met         int64   `json:"met"`
	Breached    int64   `json:"breached"`
	Pending     int64   `json:"pending"`
	Achievement float64 `json:"achievement"`
}

// SupplierFigures are a supplier review's figures: the incidents on the
// services the supplier supports, directly or through its CIs, and the
// achievement of each contract target.
type SupplierFigures struct {
	Services  []string              `json:"services"`
	Incidents int64                 `json:"incidents"`
	Breached  int64                 `json:"breached"`
	Major     int64                 `json:"major"`
	Tallies   []store.IncidentTally `json:"tallies"`
	Targets   []TargetFigure        `json:"targets"`
}

// GatherSupplierFigures counts the period's incidents and breaches on the
// supplier's services and the services its CIs are part of.
func (a *Activities) GatherSupplierFigures(ctx context.Context, in FiguresInput) (SupplierFigures, error) {
	services := slices.Clone(in.Services)
	if len(in.CIs) > 0 {
		more, err := a.CMDB.ServicesOfCIs(ctx, in.CIs)
		if err != nil {
			return SupplierFigures{}, fmt.Errorf("services of the supplier's CIs: %w", err)
		}
		services = append(services, more...)
	}
	slices.Sort(services)
	services = slices.Compact(services)
	rows, err := a.CMDB.IncidentTallies(ctx, services, in.From, in.To)
	if err != nil {
		return SupplierFigures{}, err
	}
	f := SupplierFigures{Services: services, Tallies: rows, Targets: []TargetFigure{}}
	if f.Tallies == nil {
		f.Tallies = []store.IncidentTally{}
	}
	for _, r := range rows {
		f.Incidents += r.Incidents
		f.Breached += r.Breached
		f.Major += r.Major
	}
	for _, tg := range in.Targets {
		tf := TargetFigure{ServiceTarget: tg, Achievement: 100}
		for _, r := range rows {
			if r.Service == tg.Service && r.Priority == tg.Priority {
				tf.Incidents, tf.Breached, tf.Pending = r.Incidents, r.Breached, r.Pending
				tf.Met = r.Incidents - r.Breached - r.Pending
			}
		}
		if decided := tf.Met + tf.Breached; decided > 0 {
			tf.Achievement = float64(int64(float64(tf.Met)*1000/float64(decided))) / 10
		}
		f.Targets = append(f.Targets, tf)
	}
	return f, nil
}

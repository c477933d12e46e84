package policy

import (
	"fmt"
	"slices"
	"strings"
)

// Roles a user can hold (CONTRACT §3). Approval rights come from group
// membership, not from a role.
const (
	RoleRequester    = "requester"
	RoleAgent        = "agent"
	RoleProcessOwner = "process_owner"
	RoleAdmin        = "admin"
)

// Levels returns the values impact and urgency take, highest first. It is a
// new slice on every call so no caller can change another's view of it.
func Levels() []string { return []string{"high", "medium", "low"} }

// Roles returns the four roles in the order of CONTRACT §3.
func Roles() []string { return []string{RoleRequester, RoleAgent, RoleProcessOwner, RoleAdmin} }

// Priorities returns the priorities a matrix may yield, most urgent first.
func Priorities() []string { return []string{"P1", "P2", "P3", "P4"} }

// ChangeTypes returns the change types that need approval and so have an
// entry in change_policy.approvers. Standard changes are pre-approved.
func ChangeTypes() []string { return []string{"normal", "emergency", "major"} }

// Matrix maps impact, then urgency, to a priority: m["high"]["low"] == "P3".
type Matrix map[string]map[string]string

// Priority looks up the priority of an impact and urgency. Unknown values are
// errors meant for the caller (the API answers them with 422).
func (m Matrix) Priority(impact, urgency string) (string, error) {
	if !slices.Contains(Levels(), impact) {
		return "", fmt.Errorf("impact %q is not one of %s", impact, strings.Join(Levels(), ", "))
	}
	if !slices.Contains(Levels(), urgency) {
		return "", fmt.Errorf("urgency %q is not one of %s", urgency, strings.Join(Levels(), ", "))
	}
	p, ok := m[impact][urgency]
	if !ok || p == "" {
		return "", fmt.Errorf("priority_matrix has no priority for impact %q and urgency %q", impact, urgency)
	}
	return p, nil
}

func (m Matrix) clone() Matrix {
	if m == nil {
		return nil
	}
	out := make(Matrix, len(m))
	for impact, row := range m {
		r := make(map[string]string, len(row))
		for urgency, p := range row {
			r[urgency] = p
		}
		out[impact] = r
	}
	return out
}

// defaultMatrix is the matrix of CONTRACT §3.
func defaultMatrix() Matrix {
	return Matrix{
		"high":   {"high": "P1", "medium": "P2", "low": "P3"},
		"medium": {"high": "P2", "medium": "P3", "low": "P4"},
		"low":    {"high": "P3", "medium": "P4", "low": "P4"},
	}
}

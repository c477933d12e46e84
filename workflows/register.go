package workflows

import "go.temporal.io/sdk/worker"

// Register puts every case workflow on a worker or replayer.
func Register(r worker.WorkflowRegistry) {
	r.RegisterWorkflow(IncidentWorkflow)
	r.RegisterWorkflow(RequestWorkflow)
	r.RegisterWorkflow(ChangeWorkflow)
	r.RegisterWorkflow(ProblemWorkflow)
	r.RegisterWorkflow(ReleaseWorkflow)
	r.RegisterWorkflow(CorrectiveWorkflow)
	r.RegisterWorkflow(ComplaintWorkflow)
	r.RegisterWorkflow(SupplierWorkflow)
	r.RegisterWorkflow(SupplierReviewWorkflow)
	r.RegisterWorkflow(AuditWorkflow)
	r.RegisterWorkflow(ServiceReportsWorkflow)
}

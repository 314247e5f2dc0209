import { JobRunner } from '../sellers/jobs/job-runner.js';
import { runPayout, type PayoutDeps } from './run-payout.js';

/** The payout jobs of this pod (SellerServices holds the purchase jobs; both share the job queue). */
export interface PayoutServices {
  jobs: JobRunner;
}

export function createPayoutServices(deps: PayoutDeps, owner: string): PayoutServices {
  return { jobs: new JobRunner(deps, { kind: 'payout', task_name: 'payout_jobs', run: (lease) => runPayout(deps, lease) }, owner) };
}

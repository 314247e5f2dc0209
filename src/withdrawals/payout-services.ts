import { OutboundAgents } from '../sellers/client/http-call.js';
import { JobRunner } from '../sellers/jobs/job-runner.js';
import { runPayout, type PayoutDeps } from './run-payout.js';

/** The payout jobs of this pod (SellerServices holds the purchase jobs; both share the job queue). */
export interface PayoutServices {
  jobs: JobRunner;
}

export function createPayoutServices(deps: PayoutDeps, owner: string): PayoutServices {
  // The payout provider's connections are its own: payouts never wait behind seller calls.
  const agents = new OutboundAgents(deps.config.sellers.sockets_per_origin_max);
  return { jobs: new JobRunner(deps, { kind: 'payout', task_name: 'payout_jobs', run: (lease) => runPayout(deps, agents, lease) }, owner) };
}

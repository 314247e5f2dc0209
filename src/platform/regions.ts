import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Joi from 'joi';

export interface RegionSpec {
  name: string;
  port: number;
  zones: string[];
}

export interface Topology {
  primary_region: string;
  survival_goal: 'zone' | 'region';
  regions: RegionSpec[];
}

const regionName = Joi.string().pattern(/^[a-z][a-z0-9-]{1,30}$/);

const topologySchema = Joi.object<Topology>({
  primary_region: regionName.required(),
  survival_goal: Joi.string().valid('zone', 'region').required(),
  regions: Joi.array()
    .items(
      Joi.object({
        name: regionName.required(),
        port: Joi.number().integer().min(1).max(65535).required(),
        zones: Joi.array().items(Joi.string().min(1)).min(1).max(9).required(),
      }),
    )
    .min(1)
    .max(32)
    .unique('name')
    .unique('port')
    .required(),
});

export const TOPOLOGY_FILE = fileURLToPath(new URL('../../regions/regions.json', import.meta.url));

export function loadTopology(file: string = TOPOLOGY_FILE): Topology {
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  const { value, error } = topologySchema.validate(parsed, { abortEarly: false, convert: false });
  if (error) throw new Error(`invalid region topology in ${file}: ${error.message}`);
  if (!value.regions.some((region) => region.name === value.primary_region)) {
    throw new Error(`primary_region ${value.primary_region} is not one of the regions in ${file}`);
  }
  if (value.survival_goal === 'region' && value.regions.length < 3) {
    throw new Error('survival_goal "region" needs at least 3 regions');
  }
  return value;
}

export function regionNames(topology: Topology): string[] {
  return topology.regions.map((region) => region.name);
}

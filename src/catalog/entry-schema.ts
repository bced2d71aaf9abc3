/**
 * JSON Schema (draft-07, as Ajv validates by default) of one catalog data file
 * (`src/catalog/apps/<name>.yaml`). Compose content itself is checked against the Compose
 * Specification by the catalog tests and by the manifest loader.
 */
export const catalogEntrySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'description', 'version', 'compose', 'resources', 'volumes', 'secrets', 'env', 'expose'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$' },
    description: { type: 'string', minLength: 10, maxLength: 100, pattern: '^[^\\n]+$' },
    version: { type: 'string', pattern: '^[0-9A-Za-z][0-9A-Za-z._-]*$' },
    website: { type: 'string', pattern: '^https://' },
    compose: {
      type: 'object',
      required: ['services'],
      properties: { services: { type: 'object', minProperties: 1 } },
    },
    health: {
      type: 'object',
      additionalProperties: false,
      properties: {
        http: {
          type: 'object',
          additionalProperties: false,
          required: ['port', 'path', 'expectStatus'],
          properties: {
            port: { $ref: '#/definitions/port' },
            path: { type: 'string', pattern: '^/' },
            expectStatus: { type: 'integer', minimum: 100, maximum: 599 },
          },
        },
        tcp: {
          type: 'object',
          additionalProperties: false,
          required: ['port'],
          properties: { port: { $ref: '#/definitions/port' } },
        },
        compose: { type: 'boolean' },
        timeout: { type: 'string', pattern: '^[0-9]+(ms|s|m|h)$' },
      },
    },
    resources: {
      type: 'object',
      additionalProperties: false,
      required: ['cores', 'memory', 'swap', 'disk'],
      properties: {
        cores: { type: 'integer', minimum: 1, maximum: 64 },
        memory: { type: 'integer', minimum: 64, description: 'MiB' },
        swap: { type: 'integer', minimum: 0, description: 'MiB' },
        disk: { type: 'integer', minimum: 1, description: 'GiB' },
      },
    },
    volumes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'path', 'size'],
        properties: {
          name: { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$' },
          path: { type: 'string', pattern: '^/[^\\s]*$' },
          size: { type: 'integer', minimum: 1, description: 'GiB' },
          backup: { type: 'boolean' },
        },
      },
    },
    secrets: {
      type: 'object',
      propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['generate'],
        properties: {
          generate: {
            type: 'object',
            additionalProperties: false,
            required: ['length'],
            properties: { length: { type: 'integer', minimum: 16, maximum: 128 } },
          },
        },
      },
    },
    env: {
      type: 'object',
      propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
      additionalProperties: { type: 'string' },
    },
    expose: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['port'],
        properties: { port: { $ref: '#/definitions/port' } },
      },
    },
  },
  definitions: {
    port: { type: 'integer', minimum: 1, maximum: 65535 },
  },
} as const

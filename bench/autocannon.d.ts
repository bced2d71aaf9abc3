/** The part of autocannon's API the API bench uses (the package ships no types). */
declare module 'autocannon' {
  interface Histogram {
    average: number
    p50: number
    p90: number
    p99: number
    max: number
  }
  interface Result {
    requests: Histogram & { total: number; mean: number }
    latency: Histogram
    non2xx: number
    errors: number
    timeouts: number
    duration: number
  }
  interface Options {
    url: string
    connections?: number
    duration?: number
    amount?: number
    headers?: Record<string, string>
    /** Called with each connection's client object as it is made (autocannon's hook). */
    setupClient?: (client: unknown) => void
  }
  function autocannon(opts: Options): Promise<Result>
  export default autocannon
}

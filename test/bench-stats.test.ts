import { describe, expect, it } from 'vitest';
import { differences, median, parseWrkDuration, percentile, ratios, summary } from '../bench/stats';

describe('bench statistics', () => {
  it('takes the median of odd and even counts without reordering the input', () => {
    const v = [5, 1, 3];
    expect(median(v)).toBe(3);
    expect(v).toEqual([5, 1, 3]);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });

  it('interpolates percentiles between ranks', () => {
    const v = Array.from({ length: 101 }, (_, i) => i);
    expect(percentile(v, 99)).toBe(99);
    expect(percentile([10, 20], 50)).toBe(15);
    expect(percentile([7], 99)).toBe(7);
    expect(() => percentile([], 50)).toThrow(/no values/);
    expect(() => percentile([1], 101)).toThrow(/between 0 and 100/);
  });

  it('pairs runs for ratios and differences', () => {
    expect(ratios([2, 9], [1, 3])).toEqual([2, 3]);
    expect(differences([2, 9], [1, 3])).toEqual([1, 6]);
    expect(() => ratios([1], [1, 2])).toThrow(/ratios of 1 and 2/);
  });

  it('summarizes as median and range', () => {
    expect(summary([3, 1, 2], 1)).toBe('2.0 (1.0–3.0)');
  });

  it("reads wrk's latency units as microseconds", () => {
    expect(parseWrkDuration('812.00us')).toBe(812);
    expect(parseWrkDuration('1.20ms')).toBe(1200);
    expect(parseWrkDuration('2.01s')).toBeCloseTo(2_010_000);
    expect(() => parseWrkDuration('fast')).toThrow(/not a wrk duration/);
  });
});

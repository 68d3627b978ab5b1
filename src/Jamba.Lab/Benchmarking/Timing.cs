using System.Diagnostics;

namespace Jamba.Lab.Benchmarking;

/// <summary>Median-of-runs timing shared by the benchmarks: medians resist the noise of a shared machine better than means.</summary>
public static class Timing
{
    /// <summary>Median seconds of <paramref name="action"/> over <paramref name="runs"/> timed calls after <paramref name="warmup"/> untimed ones.</summary>
    public static double MedianSeconds(int warmup, int runs, Action action)
    {
        for (int i = 0; i < warmup; i++) action();
        var samples = new double[Math.Max(1, runs)];
        for (int i = 0; i < samples.Length; i++)
        {
            var sw = Stopwatch.StartNew();
            action();
            samples[i] = sw.Elapsed.TotalSeconds;
        }
        return Median(samples);
    }

    /// <summary>The median of <paramref name="values"/> (mean of the middle two for an even count).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var v = values.OrderBy(x => x).ToArray();
        if (v.Length == 0) return double.NaN;
        return v.Length % 2 == 1 ? v[v.Length / 2] : 0.5 * (v[v.Length / 2 - 1] + v[v.Length / 2]);
    }
}

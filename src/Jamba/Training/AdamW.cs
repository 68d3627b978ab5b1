using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Training;

/// <summary>
/// AdamW (decoupled weight decay) with the exact update of PyTorch's single-tensor <c>torch.optim.AdamW</c>
/// (amsgrad off): <c>p ← p·(1 − lr·wd)</c>, <c>m ← β₁m + (1−β₁)g</c>, <c>v ← β₂v + (1−β₂)g²</c>,
/// <c>p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)</c>, with a step count per parameter, and parameters without a
/// gradient skipped (as PyTorch skips <c>grad is None</c>; an expert that received no token has none).
/// </summary>
/// <remarks>
/// Written here rather than using TorchSharp's optimiser so that every piece of state (moments, per-parameter step,
/// master weights) is an ordinary named tensor that <see cref="StateDict"/> / <see cref="LoadStateDict"/> save and
/// restore bit for bit, which exact resume needs. Moments are float32 whatever the parameter dtype. Parameters that
/// are not float32 (bf16/f16 training) get a float32 master copy: the update is applied to the master and the
/// parameter receives its rounded value, so small updates are not lost to bf16's 8-bit mantissa.
/// </remarks>
public sealed class AdamW : IDisposable
{
    private sealed class Slot
    {
        public required string Name;
        public required Tensor Parameter;
        public required ParameterGroup Group;
        public Tensor? ExpAvg, ExpAvgSq, Master;
        public long Step;
    }

    private readonly List<Slot> slots = new();

    /// <summary>β₁, the first-moment decay (default 0.9).</summary>
    public double Beta1 { get; }
    /// <summary>β₂, the second-moment decay (default 0.999).</summary>
    public double Beta2 { get; }
    /// <summary>ε added to the denominator (default 1e-8).</summary>
    public double Epsilon { get; }
    /// <summary>The parameter groups, as given.</summary>
    public IReadOnlyList<ParameterGroup> Groups { get; }

    /// <summary>Creates the optimiser over <paramref name="groups"/> (see <see cref="ParameterGroups.Split"/>).</summary>
    public AdamW(IReadOnlyList<ParameterGroup> groups, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
    {
        ArgumentNullException.ThrowIfNull(groups);
        if (beta1 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "must be in [0, 1)");
        if (beta2 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "must be in [0, 1)");
        if (epsilon < 0) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "must be >= 0");
        Beta1 = beta1; Beta2 = beta2; Epsilon = epsilon;
        Groups = groups;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var g in groups)
            foreach (var (name, p) in g.Parameters)
            {
                if (!seen.Add(name)) throw new ArgumentException($"parameter '{name}' is in more than one group", nameof(groups));
                slots.Add(new Slot { Name = name, Parameter = p, Group = g });
            }
    }

    /// <summary>
    /// AdamW over every trainable parameter of <paramref name="module"/>, with norms, biases, <c>A_log</c> and
    /// <c>D</c> exempt from weight decay (<see cref="ParameterGroups"/>).
    /// </summary>
    public static AdamW ForModule(nn.Module module, double weightDecay, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
    {
        ArgumentNullException.ThrowIfNull(module);
        return new AdamW(ParameterGroups.Split(module.named_parameters(), weightDecay), beta1, beta2, epsilon);
    }

    /// <summary>Every parameter the optimiser updates.</summary>
    public IEnumerable<Tensor> Parameters => slots.Select(s => s.Parameter);

    /// <summary>The largest per-parameter step count (the number of optimiser steps taken).</summary>
    public long StepCount => slots.Count == 0 ? 0 : slots.Max(s => s.Step);

    /// <summary>Drops every gradient (PyTorch's <c>zero_grad(set_to_none=True)</c>), so unused parameters are skipped next step.</summary>
    public void ZeroGrad()
    {
        foreach (var s in slots)
        {
            var g = s.Parameter.grad;
            if (g is null) continue;
            g.Dispose();
            s.Parameter.grad = null;
        }
    }

    /// <summary>Applies one update with learning rate <paramref name="learningRate"/> to every parameter that has a gradient.</summary>
    public void Step(double learningRate)
    {
        using var _ = no_grad();
        foreach (var s in slots)
        {
            var grad = s.Parameter.grad;
            if (grad is null) continue;
            using var scope = NewDisposeScope();
            var p = s.Parameter;
            bool needsMaster = p.dtype != ScalarType.Float32;
            if (s.ExpAvg is null)
            {
                s.ExpAvg = zeros_like(p, dtype: ScalarType.Float32).DetachFromDisposeScope();
                s.ExpAvgSq = zeros_like(p, dtype: ScalarType.Float32).DetachFromDisposeScope();
            }
            if (needsMaster && s.Master is null) s.Master = p.detach().to_type(ScalarType.Float32).DetachFromDisposeScope();
            var target = needsMaster ? s.Master! : p;
            var g = grad.dtype == ScalarType.Float32 ? grad : grad.to_type(ScalarType.Float32);

            s.Step++;
            double wd = s.Group.WeightDecay;
            if (wd != 0) target.mul_(1 - learningRate * wd);
            s.ExpAvg.lerp_(g, 1 - Beta1);
            s.ExpAvgSq!.mul_(Beta2).addcmul_(g, g, 1 - Beta2);
            double bc1 = 1 - Math.Pow(Beta1, s.Step);
            double bc2 = 1 - Math.Pow(Beta2, s.Step);
            double stepSize = learningRate / bc1;
            var denom = s.ExpAvgSq.sqrt().div_(Math.Sqrt(bc2)).add_(Epsilon);
            target.addcdiv_(s.ExpAvg, denom, -stepSize);
            if (needsMaster) p.copy_(target);
        }
    }

    /// <summary>
    /// The optimiser state as named tensors (copies, on their device): <c>exp_avg.NAME</c>, <c>exp_avg_sq.NAME</c>,
    /// <c>step.NAME</c> (int64 [1]) and, for non-float32 parameters, <c>master.NAME</c>. Parameters never updated
    /// have no entries. The caller owns the tensors.
    /// </summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var d = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var s in slots)
        {
            if (s.ExpAvg is null) continue;
            d["exp_avg." + s.Name] = s.ExpAvg.detach().clone();
            d["exp_avg_sq." + s.Name] = s.ExpAvgSq!.detach().clone();
            d["step." + s.Name] = tensor(new[] { s.Step }, device: s.ExpAvg.device);
            if (s.Master is not null) d["master." + s.Name] = s.Master.detach().clone();
        }
        return d;
    }

    /// <summary>
    /// The same entries as <see cref="StateDict"/>, but as views of the live state instead of copies, for writing a
    /// checkpoint without doubling the optimiser's memory. Only valid until the next <see cref="Step"/>; disposing
    /// the views frees nothing of the optimiser.
    /// </summary>
    internal Dictionary<string, Tensor> StateViews()
    {
        var d = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var s in slots)
        {
            if (s.ExpAvg is null) continue;
            d["exp_avg." + s.Name] = s.ExpAvg.detach();
            d["exp_avg_sq." + s.Name] = s.ExpAvgSq!.detach();
            d["step." + s.Name] = tensor(new[] { s.Step }, device: s.ExpAvg.device);
            if (s.Master is not null) d["master." + s.Name] = s.Master.detach();
        }
        return d;
    }

    /// <summary>
    /// Restores <see cref="StateDict"/>'s output (copied onto each parameter's device). Entries for unknown
    /// parameters, or with the wrong shape, are an error naming them.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var byName = slots.ToDictionary(s => s.Name, StringComparer.Ordinal);
        foreach (var key in state.Keys)
        {
            int dot = key.IndexOf('.');
            string kind = dot < 0 ? key : key[..dot];
            string name = dot < 0 ? "" : key[(dot + 1)..];
            if (kind is not ("exp_avg" or "exp_avg_sq" or "step" or "master") || !byName.TryGetValue(name, out var s))
                throw new InvalidDataException($"optimizer state has an entry '{key}' that matches no trainable parameter");
            if (kind != "step" && !state[key].shape.SequenceEqual(s.Parameter.shape))
                throw new InvalidDataException($"optimizer state '{key}' has shape [{string.Join(", ", state[key].shape)}], parameter has [{string.Join(", ", s.Parameter.shape)}]");
        }
        using var _ = no_grad();
        foreach (var s in slots)
        {
            s.ExpAvg?.Dispose(); s.ExpAvgSq?.Dispose(); s.Master?.Dispose();
            s.ExpAvg = s.ExpAvgSq = s.Master = null;
            s.Step = 0;
            if (!state.TryGetValue("exp_avg." + s.Name, out var m)) continue;
            if (!state.TryGetValue("exp_avg_sq." + s.Name, out var v) || !state.TryGetValue("step." + s.Name, out var st))
                throw new InvalidDataException($"optimizer state for '{s.Name}' is incomplete (needs exp_avg, exp_avg_sq and step)");
            var device = s.Parameter.device;
            s.ExpAvg = m.to(ScalarType.Float32, device, copy: true).detach();
            s.ExpAvgSq = v.to(ScalarType.Float32, device, copy: true).detach();
            s.Step = st.to_type(ScalarType.Int64).cpu().item<long>();
            if (state.TryGetValue("master." + s.Name, out var master)) s.Master = master.to(ScalarType.Float32, device, copy: true).detach();
        }
    }

    /// <summary>Frees the moment and master tensors.</summary>
    public void Dispose()
    {
        foreach (var s in slots)
        {
            s.ExpAvg?.Dispose(); s.ExpAvgSq?.Dispose(); s.Master?.Dispose();
            s.ExpAvg = s.ExpAvgSq = s.Master = null;
        }
    }
}

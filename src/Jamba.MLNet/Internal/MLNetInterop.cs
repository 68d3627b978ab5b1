using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Jamba.MLNet.Internal;

/// <summary>
/// The few ML.NET facilities that extension packages outside ML.NET's own assemblies cannot reach through its public
/// API (the catalog's environment, SchemaShape columns, the cancellation flag, the GPU settings). Each is reached by
/// name, and a failure says exactly which ML.NET member went missing rather than misbehaving quietly;
/// tests/Jamba.MLNet.Tests/MLNetInteropTests.cs checks every one against the referenced ML.NET, and the package accepts
/// only the ML.NET releases those tests cover (MicrosoftMLVersionRange in Directory.Build.props).
/// </summary>
internal static class MLNetInterop
{
    private static readonly ConstructorInfo? ShapeColumnCtor = typeof(SchemaShape.Column)
        .GetConstructors(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)
        .FirstOrDefault(c => c.GetParameters().Length == 5);

    /// <summary>The referenced Microsoft.ML release (its package version; the assembly version is always 1.0.0.0).</summary>
    public static string MLNetVersion { get; } =
        typeof(MLContext).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "unknown";

    /// <summary>The error for an ML.NET member that is not where this build expects it.</summary>
    public static InvalidOperationException Missing(string member) => new(
        $"ML.NET's {member} was not found in Microsoft.ML {MLNetVersion}; this build of Jamba.MLNet was tested against Microsoft.ML 6.x");

    /// <summary>The MLContext (or other host) behind a catalog such as <c>ml.Transforms</c> or <c>ml.MulticlassClassification.Trainers</c>.</summary>
    public static IHostEnvironment GetEnvironment(object catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var iface = catalog.GetType().GetInterfaces().FirstOrDefault(i => i.Name == "IInternalCatalog");
        var value = iface?.GetProperty("Environment")?.GetValue(catalog) as IHostEnvironment;
        return value ?? throw Missing($"IInternalCatalog.Environment (the MLContext behind {catalog.GetType().Name})");
    }

    /// <summary>True once <c>MLContext.CancelExecution()</c> (ML.NET's ICancelable) was called on <paramref name="env"/> or a parent.</summary>
    public static bool IsCanceled(IHostEnvironment env)
    {
        // An environment that is not ML.NET's own may have no cancellation at all; ML.NET's always has it.
        var iface = env.GetType().GetInterfaces().FirstOrDefault(i => i.Name == "ICancelable");
        if (iface is null) return false;
        var property = iface.GetProperty("IsCanceled") ?? throw Missing("ICancelable.IsCanceled");
        return property.GetValue(env) is true;
    }

    /// <summary>
    /// Calls ML.NET's own cancellation (non-public in Microsoft.ML 6: MLContext.CancelExecution, or ICancelable on a
    /// bare environment), so ML.NET's trainers stop as well as ours.
    /// </summary>
    public static void CancelExecution(IHostEnvironment env)
    {
        var method = env.GetType().GetMethod("CancelExecution", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, Type.EmptyTypes)
            ?? env.GetType().GetInterfaces().FirstOrDefault(i => i.Name == "ICancelable")?.GetMethod("CancelExecution")
            ?? throw Missing($"CancelExecution on {env.GetType().Name} (MLContext.CancelExecution or ICancelable.CancelExecution)");
        method.Invoke(env, null);
    }

    /// <summary>
    /// MLContext.GpuDeviceId and MLContext.FallbackToCpu as seen from a catalog's environment (ML.NET's internal
    /// IHostEnvironmentInternal carries them for the MLContext the catalog belongs to).
    /// </summary>
    public static (int? GpuDeviceId, bool FallbackToCpu) GpuSettings(IHostEnvironment env)
    {
        if (env is MLContext ml) return (ml.GpuDeviceId, ml.FallbackToCpu);
        var iface = env.GetType().GetInterfaces().FirstOrDefault(i => i.Name == "IHostEnvironmentInternal");
        if (iface is null) return (null, false); // not ML.NET's environment: no GPU settings to honour
        var gpu = iface.GetProperty("GpuDeviceId") ?? throw Missing("IHostEnvironmentInternal.GpuDeviceId");
        var fallback = iface.GetProperty("FallbackToCpu") ?? throw Missing("IHostEnvironmentInternal.FallbackToCpu");
        return (gpu.GetValue(env) as int?, fallback.GetValue(env) is true);
    }

    /// <summary>
    /// The torch device for <paramref name="env"/>'s GPU settings: <c>cuda:{GpuDeviceId}</c> when set and CUDA is
    /// available, the CPU when it is not and FallbackToCpu allows, else an error; null when no GPU was asked for.
    /// </summary>
    public static string? DeviceFromContext(IHostEnvironment env, string component)
    {
        var (gpu, fallback) = GpuSettings(env);
        if (gpu is not int id) return null;
        Jamba.Runtime.TorchBackend.EnsureLoaded(); // before TorchSharp's first call, so a missing backend is named plainly
        if (TorchSharp.torch.cuda.is_available()) return $"cuda:{id}";
        if (fallback) return "cpu";
        throw new InvalidOperationException($"{component}: MLContext.GpuDeviceId is {id} but CUDA is not available; set MLContext.FallbackToCpu = true to use the CPU");
    }

    /// <summary>Builds a <see cref="SchemaShape.Column"/>; ML.NET keeps its constructor internal.</summary>
    public static SchemaShape.Column ShapeColumn(string name, SchemaShape.Column.VectorKind kind, DataViewType itemType, bool isKey, SchemaShape? annotations = null)
    {
        if (ShapeColumnCtor is null) throw Missing("SchemaShape.Column constructor (name, kind, itemType, isKey, annotations)");
        return (SchemaShape.Column)ShapeColumnCtor.Invoke(new object?[] { name, kind, itemType, isKey, annotations ?? new SchemaShape(Array.Empty<SchemaShape.Column>()) });
    }

    /// <summary>The shape of a concrete column (used for the annotations the outputs carry).</summary>
    public static SchemaShape.Column ShapeOf(string name, DataViewType type, SchemaShape? annotations = null)
    {
        var kind = type is VectorDataViewType v ? (v.IsKnownSize ? SchemaShape.Column.VectorKind.Vector : SchemaShape.Column.VectorKind.VariableVector) : SchemaShape.Column.VectorKind.Scalar;
        var item = type is VectorDataViewType vt ? vt.ItemType : type;
        return ShapeColumn(name, kind, item, item is KeyDataViewType, annotations);
    }

    /// <summary>Input shape with <paramref name="outputs"/> added (replacing same-named columns, as ML.NET's schemas do).</summary>
    public static SchemaShape Extend(SchemaShape input, IEnumerable<SchemaShape.Column> outputs)
    {
        var columns = input.ToDictionary(c => c.Name);
        foreach (var c in outputs) columns[c.Name] = c;
        return new SchemaShape(columns.Values);
    }

    /// <summary>A shape holding the annotation columns named, each text vector (slot names, key values).</summary>
    public static SchemaShape TextVectorAnnotations(params string[] names) =>
        new(names.Select(n => ShapeColumn(n, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false)));

    /// <summary>A <see cref="MLContext"/>-style description of a column type for error messages (e.g. <c>Vector&lt;Single, 3&gt;</c>).</summary>
    public static string Describe(DataViewType type) => type switch
    {
        TextDataViewType => "String (Text)",
        KeyDataViewType k => $"Key<{k.RawType.Name}, {k.Count}>",
        VectorDataViewType v => v.IsKnownSize ? $"Vector<{Describe(v.ItemType)}, {v.Size}>" : $"Vector<{Describe(v.ItemType)}>",
        _ => type.ToString() ?? type.RawType.Name,
    };

    /// <summary>Describes a column shape for error messages.</summary>
    public static string Describe(SchemaShape.Column c)
    {
        string item = c.IsKey ? $"Key<{c.ItemType.RawType.Name}>" : c.ItemType is TextDataViewType ? "String (Text)" : c.ItemType.ToString() ?? c.ItemType.RawType.Name;
        return c.Kind switch
        {
            SchemaShape.Column.VectorKind.Scalar => item,
            SchemaShape.Column.VectorKind.Vector => $"Vector<{item}>",
            _ => $"Vector<{item}> (variable size)",
        };
    }
}

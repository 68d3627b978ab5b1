using Jamba.MLNet.Internal;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Jamba.MLNet.Tests;

/// <summary>
/// Every ML.NET internal that Jamba.MLNet reaches by reflection (Internal/MLNetInterop.cs), checked against the
/// referenced ML.NET. A future ML.NET that moves one fails here, naming the member; the package's accepted ML.NET
/// range (MicrosoftMLVersionRange in Directory.Build.props) is the range these tests were run against.
/// </summary>
[TestClass]
public sealed class MLNetInteropTests
{
    private static string Version => MLNetInterop.MLNetVersion;

    private static T Reach<T>(string member, Func<T> reach)
    {
        try
        {
            return reach();
        }
        catch (Exception e)
        {
            Assert.Fail($"ML.NET {Version} moved {member}: {e.Message}");
            throw;
        }
    }

    [TestMethod]
    public void ReferencedMLNetIsTheMajorVersionTheRangeAllows()
    {
        // The package pins [6.0.0,7.0.0); these tests must run against a release inside it.
        Assert.IsTrue(System.Version.TryParse(Version.Split('-')[0], out var v), $"cannot read Microsoft.ML's version '{Version}'");
        Assert.AreEqual(6, v.Major, $"tests ran against Microsoft.ML {Version}");
    }

    [TestMethod]
    public void IInternalCatalogEnvironmentIsReachableFromEveryCatalogUsed()
    {
        var ml = new MLContext(seed: 1);
        foreach (object catalog in new object[]
        {
            ml.Transforms, ml.Model, ml.MulticlassClassification.Trainers, ml.BinaryClassification.Trainers, ml.Regression.Trainers,
        })
        {
            var env = Reach($"IInternalCatalog.Environment on {catalog.GetType().Name}", () => MLNetInterop.GetEnvironment(catalog));
            Assert.IsNotNull(env, $"IInternalCatalog.Environment on {catalog.GetType().Name} returned null");
        }
    }

    [TestMethod]
    public void SchemaShapeColumnConstructorBuildsTheColumnAsked()
    {
        var annotations = MLNetInterop.TextVectorAnnotations("SlotNames");
        var column = Reach("SchemaShape.Column's internal constructor", () =>
            MLNetInterop.ShapeColumn("Features", SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false, annotations));
        Assert.AreEqual("Features", column.Name, "SchemaShape.Column constructor: name");
        Assert.AreEqual(SchemaShape.Column.VectorKind.Vector, column.Kind, "SchemaShape.Column constructor: kind");
        Assert.AreEqual(NumberDataViewType.Single, column.ItemType, "SchemaShape.Column constructor: item type");
        Assert.IsFalse(column.IsKey, "SchemaShape.Column constructor: isKey");
        Assert.IsTrue(column.Annotations.Any(c => c.Name == "SlotNames"), "SchemaShape.Column constructor: annotations");
    }

    [TestMethod]
    public void CancelExecutionSetsICancelableIsCanceledOnTheCatalogEnvironment()
    {
        var ml = new MLContext(seed: 1);
        var env = MLNetInterop.GetEnvironment(ml.Transforms);
        Assert.IsNotNull(env.GetType().GetInterfaces().FirstOrDefault(i => i.Name == "ICancelable"),
            $"ML.NET {Version}: the catalog environment {env.GetType().Name} no longer implements ICancelable");
        Assert.IsFalse(Reach("ICancelable.IsCanceled", () => MLNetInterop.IsCanceled(env)), "a fresh context is not cancelled");
        Reach("MLContext.CancelExecution", () => { MLNetInterop.CancelExecution(ml); return 0; });
        Assert.IsTrue(MLNetInterop.IsCanceled(env),
            $"ML.NET {Version}: MLContext.CancelExecution did not set ICancelable.IsCanceled on the catalog environment");
        Assert.IsTrue(MLNetInterop.IsCanceled(((IHostEnvironment)ml).Register("child")),
            $"ML.NET {Version}: a host registered under a cancelled context does not report ICancelable.IsCanceled");
    }

    [TestMethod]
    public void GpuSettingsReachIHostEnvironmentInternalThroughTheCatalog()
    {
        var ml = new MLContext(seed: 1) { GpuDeviceId = 3, FallbackToCpu = true };
        var env = MLNetInterop.GetEnvironment(ml.Transforms);
        Assert.IsFalse(env is MLContext, "the catalog environment is ML.NET's inner environment, so the reflected path is the one tested");
        var (gpu, fallback) = Reach("IHostEnvironmentInternal.GpuDeviceId/FallbackToCpu", () => MLNetInterop.GpuSettings(env));
        Assert.AreEqual(3, gpu, $"ML.NET {Version}: IHostEnvironmentInternal.GpuDeviceId did not carry MLContext.GpuDeviceId");
        Assert.IsTrue(fallback, $"ML.NET {Version}: IHostEnvironmentInternal.FallbackToCpu did not carry MLContext.FallbackToCpu");

        var plain = MLNetInterop.GetEnvironment(new MLContext(seed: 1).Transforms);
        Assert.AreEqual((null, false), MLNetInterop.GpuSettings(plain), "no GPU asked for");
    }
}

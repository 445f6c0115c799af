//! Every WGSL kernel parses and validates with naga (the compiler wgpu itself uses), with no
//! GPU needed: the shaders are checked on every machine that runs the tests.

use htdiag::gpu::kernels::SOURCES;

#[test]
fn every_kernel_validates_with_naga() {
    assert!(SOURCES.len() >= 23);
    for (name, src) in SOURCES {
        let module = naga::front::wgsl::parse_str(src)
            .unwrap_or_else(|e| panic!("{name}.wgsl: {}", e.emit_to_string(src)));
        let info = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}.wgsl: {}", e.emit_to_string(src)));
        // One compute entry point named `main` per file (the pipelines ask for it).
        assert_eq!(module.entry_points.len(), 1, "{name}");
        assert_eq!(module.entry_points[0].name, "main", "{name}");
        assert_eq!(
            module.entry_points[0].stage,
            naga::ShaderStage::Compute,
            "{name}"
        );
        let _ = info;
        // Every declared binding must be used by the entry point: the pipelines derive their
        // bind-group layouts from the shader, which drops unused bindings.
        let ep_info = info.get_entry_point(0);
        for (handle, var) in module.global_variables.iter() {
            if var.binding.is_some() {
                assert!(
                    !ep_info[handle].is_empty(),
                    "{name}.wgsl: binding '{}' is declared but unused",
                    var.name.as_deref().unwrap_or("?")
                );
            }
        }
    }
}

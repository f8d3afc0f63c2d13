// Platform-free logic of the demo (pixels <-> tensors, PIL-exact centre crop, blending, manifest parsing).
// Plain Java so it also builds and tests with Debian's offline Maven (pom.xml) where no Android SDK exists.
plugins {
    `java-library`
}

java {
    sourceCompatibility = JavaVersion.VERSION_11
    targetCompatibility = JavaVersion.VERSION_11
}

dependencies {
    testImplementation(libs.junit)
}

tasks.test {
    // Golden fixtures written by `mobilestyle bundle --fixtures` (committed copy under src/test/resources).
    systemProperty("fixtures.dir", file("src/test/resources/fixtures").absolutePath)
}

plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
}

android {
    namespace = "com.mobilestyle.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "com.mobilestyle.demo"
        minSdk = 29 // MediaStore pending inserts (save/share, camera output) without storage permissions
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
            signingConfig = signingConfigs.getByName("debug")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_11
        targetCompatibility = JavaVersion.VERSION_11
    }
    kotlinOptions {
        jvmTarget = "11"
    }

    // Models are memory-mapped straight from the APK: they must be stored uncompressed.
    androidResources {
        noCompress += "tflite"
    }
}

dependencies {
    implementation(project(":core"))
    implementation(libs.litert)
    implementation(libs.litert.gpu)
    implementation(libs.litert.gpu.api)
    implementation(libs.coroutines.android)
}

<#-- The address form of the Passcode sign-up and address sign-in authenticators: where a code is sent. -->
<#import "template.ftl" as layout>
<@layout.registrationLayout displayMessage=true; section>
    <#if section = "header">
        <#if passcodePurpose == "sign-up">${msg("passcodeSignUpTitle")}<#else>${msg("passcodeSignInTitle")}</#if>
    <#elseif section = "form">
        <form id="kc-passcode-address" action="${url.loginAction}" method="post">
            <label for="email">${msg("email")}</label>
            <input id="email" name="email" type="email" autocomplete="email" autofocus required>
            <button type="submit">${msg("passcodeSendCode")}</button>
        </form>
    </#if>
</@layout.registrationLayout>
